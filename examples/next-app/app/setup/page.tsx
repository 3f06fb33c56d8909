"use client";

import { Suspense, useState } from "react";
import { useSearchParams } from "next/navigation";
import { Wrapper, useApp } from "tally-sdk/react";

function Setup({ code }: { code: string | null }) {
  const { context, installation, updateInstallation } = useApp();
  const [error, setError] = useState<string | null>(null);

  if (!installation) {
    return <p>Loading installation...</p>;
  }
  if (installation.status === "COMPLETED") {
    return <p>Installation completed</p>;
  }

  // mgmtApi without its last path segment: where /app-exchange-token is.
  const managementApiBaseUrl = context.project.mgmtApi.split("/").slice(0, -1).join("/");

  async function connect() {
    setError(null);
    const response = await fetch("/api/exchangeSetupCode", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        code,
        environmentId: context.environment.id,
        managementApiBaseUrl,
      }),
    });
    if (!response.ok) {
      const { message } = await response.json();
      setError(message);
      return;
    }
    await updateInstallation({ status: "COMPLETED", config: {} });
  }

  return (
    <main>
      <h1>Connect to {context.project.name}</h1>
      <button onClick={connect}>Connect</button>
      {error && <p role="alert">{error}</p>}
    </main>
  );
}

function SetupPage() {
  const code = useSearchParams().get("code");
  return (
    <Wrapper>
      <Setup code={code} />
    </Wrapper>
  );
}

export default function Page() {
  // useSearchParams needs a Suspense boundary when the page is prerendered.
  return (
    <Suspense>
      <SetupPage />
    </Suspense>
  );
}
