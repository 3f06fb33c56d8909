import { NextResponse } from "next/server";

import { keepAppToken } from "@/lib/appTokens";
import { configured, managementApiBaseUrl as trustedBaseUrl } from "@/lib/authority";

// Exchanges the one-time setup code for the app token, with the app's client
// credentials, which only this server has.
export async function POST(request: Request) {
  const { code, environmentId, managementApiBaseUrl } = await request.json();

  if (!code || !environmentId || !managementApiBaseUrl) {
    return NextResponse.json(
      { message: "Missing required fields: code, environmentId, managementApiBaseUrl" },
      { status: 400 },
    );
  }
  if (!configured || managementApiBaseUrl !== trustedBaseUrl) {
    return NextResponse.json({ message: "managementApiBaseUrl is not the authority this app trusts" }, { status: 400 });
  }

  const response = await fetch(`${managementApiBaseUrl}/app-exchange-token`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      clientId: process.env.CLIENT_ID,
      clientSecret: process.env.CLIENT_SECRET,
      exchangeCode: code,
    }),
  });
  const data = await response.json();

  if (!response.ok) {
    return NextResponse.json({ message: data.message }, { status: response.status });
  }

  keepAppToken(environmentId, data.appToken);
  return NextResponse.json({ success: true });
}
