import { NextResponse } from "next/server";
import { Webhook } from "standardwebhooks";

import { dropAppToken, keptAppTokenId } from "@/lib/appTokens";

type TallyEvent = {
  type: string;
  data: { environmentId?: string; tokenId?: string };
};

// Tally's webhooks (register the app with webhookUrl <app>/api/webhooks and
// start it with the WEBHOOK_SECRET shown then): verified per Standard
// Webhooks; on an uninstall, a disable or the revocation of the kept token,
// the token is dropped. Repeats (same webhook-id) are harmless.
export async function POST(request: Request) {
  const secret = process.env.WEBHOOK_SECRET;
  if (!secret) {
    return NextResponse.json({ message: "Server is missing WEBHOOK_SECRET." }, { status: 500 });
  }
  let event: TallyEvent;
  try {
    event = new Webhook(secret).verify(await request.text(), {
      "webhook-id": request.headers.get("webhook-id") ?? "",
      "webhook-timestamp": request.headers.get("webhook-timestamp") ?? "",
      "webhook-signature": request.headers.get("webhook-signature") ?? "",
    }) as TallyEvent;
  } catch {
    return NextResponse.json({ message: "The webhook does not verify." }, { status: 400 });
  }
  const environmentId = event.data.environmentId;
  if (environmentId) {
    const revokedKept = event.type === "token.revoked" && keptAppTokenId(environmentId) === event.data.tokenId;
    if (event.type === "installation.uninstalled" || event.type === "installation.disabled" || revokedKept) {
      dropAppToken(environmentId);
    }
  }
  return new Response(null, { status: 204 });
}
