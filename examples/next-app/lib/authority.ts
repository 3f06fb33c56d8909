// The one Tally authority this app works with, from TALLY_URL (e.g.
// http://127.0.0.1:8787). The browser sends managementApiBaseUrl and mgmtApi
// from the platform's context; the routes use them only when they point
// here, so a page that frames the app cannot make the backend send its
// client secret, or a token, anywhere else.
const authority = (process.env.TALLY_URL ?? "").replace(/\/+$/, "");

/** `${TALLY_URL}/v1`: where `/app-exchange-token` is. */
export const managementApiBaseUrl = `${authority}/v1`;
/** `${TALLY_URL}/v1/management`: the project's `mgmtApi`. */
export const mgmtApi = `${managementApiBaseUrl}/management`;

export const configured = authority !== "";
