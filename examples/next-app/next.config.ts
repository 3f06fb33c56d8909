import path from "node:path";
import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  // tally-sdk is linked from ../../npm (file: dependency): let the bundler
  // read files from the repository root. An app that installs tally-sdk
  // from the registry needs no such line.
  turbopack: { root: path.join(__dirname, "../..") },
  outputFileTracingRoot: path.join(__dirname, "../.."),
};

export default nextConfig;
