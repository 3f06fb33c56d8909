// The app backend's webhook endpoint: Tally tells it of changes to its
// installations, signed per the Standard Webhooks specification, which the
// `standardwebhooks` package verifies (signature and a timestamp within
// five minutes). What the app does with them: when an installation is
// uninstalled or its APP token revoked, it drops the token it kept, so it
// never calls the platform with a dead credential. Deliveries come at least
// once: a repeat (same webhook-id) does the same again, harmlessly.
//
// Statuses: 204 handled (or not an event this app acts on); 400 a body
// or signature that does not verify (Tally retries only what fails, and a
// forged request is not retried by anyone); 500 no WEBHOOK_SECRET set.
import standardwebhooks from "standardwebhooks";

const { Webhook } = standardwebhooks;

/**
 * @param {string} rawBody the request body exactly as received
 * @param {Record<string, string | string[] | undefined>} headers
 * @param {{ secret?: string, tokens: Map<string, string> }} options
 * @returns {{ status: number, body?: object }}
 */
export function handleWebhook(rawBody, headers, { secret, tokens }) {
  if (!secret) return { status: 500, body: { message: "Server is missing WEBHOOK_SECRET." } };
  let event;
  try {
    event = new Webhook(secret).verify(rawBody, {
      "webhook-id": String(headers["webhook-id"] ?? ""),
      "webhook-timestamp": String(headers["webhook-timestamp"] ?? ""),
      "webhook-signature": String(headers["webhook-signature"] ?? ""),
    });
  } catch {
    return { status: 400, body: { message: "The webhook does not verify." } };
  }
  const data = event?.data ?? {};
  const kept = tokens.get(data.environmentId);
  switch (event?.type) {
    case "installation.uninstalled":
    case "installation.disabled":
      tokens.delete(data.environmentId);
      break;
    case "token.revoked":
      // The kept token is `<tokenId>.<secret>`: drop it only if it is the one revoked.
      if (typeof kept === "string" && kept.split(".")[0].replace(/^\S+\s+/, "") === data.tokenId) {
        tokens.delete(data.environmentId);
      }
      break;
    default:
      break;
  }
  return { status: 204 };
}
