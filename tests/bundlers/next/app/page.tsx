"use client";

// The app side: tally-sdk and tally-sdk/react in a client component.
import { isTallyError } from "tally-sdk";
import { Wrapper, useApp } from "tally-sdk/react";

function Name() {
  const { context } = useApp();
  return <p>{context.project.name}</p>;
}

export default function Page() {
  return (
    <Wrapper errorFallback={(e) => <p>{isTallyError(e) ? e.code : "error"}</p>}>
      <Name />
    </Wrapper>
  );
}
