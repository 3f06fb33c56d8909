"use client";

import { useState } from "react";
import { Wrapper, useApp } from "tally-sdk/react";

function Home() {
  const { context } = useApp();
  const [result, setResult] = useState("");

  async function createModel() {
    const response = await fetch("/api/createHygraphModel", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        authToken: context.environment.authToken,
        environmentId: context.environment.id,
        mgmtApi: context.project.mgmtApi,
      }),
    });
    const data = await response.json();
    if (response.ok && !data.errors) {
      setResult(`Model created (migration ${data.data.createModel.migration.id})`);
    } else {
      setResult(`Could not create the model (${response.status}): ${data.errors?.[0]?.message ?? data.message}`);
    }
  }

  return (
    <main>
      <h1>{context.project.name}</h1>
      <p>
        Environment {context.environment.name}
        {context.user ? `, signed in as ${context.user.name}` : ""}
      </p>
      <button onClick={createModel}>Create model</button>
      <p id="result">{result}</p>
    </main>
  );
}

export default function Page() {
  return (
    <Wrapper>
      <Home />
    </Wrapper>
  );
}
