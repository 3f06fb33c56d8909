import path from "node:path";
import type { NextConfig } from "next";

// The test links next, react and tally-sdk into node_modules/ from the
// repository: let the bundler read the whole repository.
const nextConfig: NextConfig = {
  turbopack: { root: path.join(__dirname, "../../..") },
  outputFileTracingRoot: path.join(__dirname, "../../.."),
};

export default nextConfig;
