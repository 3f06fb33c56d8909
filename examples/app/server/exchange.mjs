// The app backend's setup-code exchange, as Hygraph documents the route
// (app/api/exchangeSetupCode), with two changes a careful app makes:
//   - the browser-supplied managementApiBaseUrl must be an authority this app
//     trusts, or the app would post its client secret wherever a page says;
//   - the app token stays on the server (onToken); the browser gets
//     { connected: true }, never the token.
//
// Statuses: 400 bad body (naming the missing fields) or untrusted authority;
// 500 when the app's own client credentials are not configured; 502 when the
// authority cannot be reached or answers without a token; otherwise the
// authority's status and message pass through.

const REQUIRED = ["code", "environmentId", "managementApiBaseUrl"];

const json = (status, body) => ({ status, body });

/**
 * @param {string} rawBody the request body as received
 * @param {{ clientId?: string, clientSecret?: string, trustedAuthorities: string[],
 *           onToken: (appToken: string, info: { environmentId: string, managementApiBaseUrl: string }) => void | Promise<void>,
 *           fetch?: typeof fetch }} options
 * @returns {Promise<{ status: number, body: object }>}
 */
export async function exchangeSetupCode(rawBody, { clientId, clientSecret, trustedAuthorities, onToken, fetch: fetchImpl = fetch }) {
  let payload;
  try {
    payload = JSON.parse(rawBody);
  } catch {
    return json(400, { message: "Invalid request body. JSON payload is required." });
  }
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
    return json(400, { message: "Invalid request body. JSON payload is required." });
  }
  const missing = REQUIRED.filter((k) => typeof payload[k] !== "string" || payload[k] === "");
  if (missing.length > 0) {
    return json(400, { message: `Missing required fields: ${missing.join(", ")}.` });
  }
  if (!clientId || !clientSecret) {
    return json(500, { message: "Server is missing CLIENT_ID or CLIENT_SECRET." });
  }
  const base = payload.managementApiBaseUrl.replace(/\/+$/, "");
  if (!trustedAuthorities.map((a) => a.replace(/\/+$/, "")).includes(base)) {
    return json(400, { message: "managementApiBaseUrl is not an authority this app trusts." });
  }
  let response;
  let data;
  try {
    response = await fetchImpl(`${base}/app-exchange-token`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ clientId, clientSecret, exchangeCode: payload.code }),
    });
    data = await response.json().catch(() => ({}));
  } catch {
    return json(502, { message: "Could not reach the authority to exchange the setup code." });
  }
  if (!response.ok) {
    const message = typeof data?.message === "string" && data.message ? data.message : `The authority answered ${response.status}.`;
    return json(response.status, { message });
  }
  if (typeof data?.appToken !== "string" || data.appToken === "") {
    return json(502, { message: "The authority returned no app token." });
  }
  await onToken(data.appToken, { environmentId: payload.environmentId, managementApiBaseUrl: base });
  return json(200, { connected: true, environmentId: payload.environmentId });
}
