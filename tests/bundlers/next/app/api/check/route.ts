// The edge side in a server route: tally-sdk/verifier deciding a request.
import { decide, httpStatus, loadVerifier } from "tally-sdk/verifier";

export async function GET(request: Request) {
  const verifier = await loadVerifier();
  const decision = await decide(verifier, {
    authorization: request.headers.get("authorization"),
    lookup: () => null,
    request: { api: "content", action: "read", now: Math.floor(Date.now() / 1000) },
  });
  return Response.json(decision, { status: httpStatus(decision) });
}
