// Every example of npm/README.md, as written there (one cast marked below),
// type-checked against the package's .d.ts files (tsc --strict). What the
// README leaves to the reader (an API client, a toast, a record store, the
// request) is declared first.
import { Wrapper, useApp, useFieldExtension, useFormSidebarExtension, usePageExtension, useUiExtensionDialog } from "tally-sdk/react";
import { init } from "tally-sdk";
import { createAppFrame } from "tally-sdk/parent";
import { loadVerifier, decide, METHOD_ACTIONS, UNAUTHENTICATED, httpStatus } from "tally-sdk/verifier";
import { loadGate } from "tally-sdk/gate";
import type { Installation, InstallationUpdate } from "tally-sdk";
import type { TokenRecord } from "tally-sdk/verifier";
import type { ContextWithoutToken } from "tally-sdk/parent";

declare const api: {
  patchInstallation(id: string, update: InstallationUpdate): Promise<Installation>;
  sessionToken(installationId: string): Promise<{ token: string; expiresIn: number }>;
};
declare function toast(message: string, variant?: string): void;
declare const context: ContextWithoutToken;
declare const setupUrl: string;
declare const records: Map<string, TokenRecord>;
declare const request: Request;

// The setup page, with React.
function Setup() {
  const { installation, exchangeSetupCode, updateInstallation } = useApp();
  if (installation.status === "COMPLETED") return <p>Connected.</p>;
  return (
    <button
      onClick={async () => {
        // POST /api/exchangeSetupCode { code, environmentId, managementApiBaseUrl }
        await exchangeSetupCode();
        await updateInstallation({ status: "COMPLETED" });
      }}
    >
      Connect
    </button>
  );
}

export default function SetupPage() {
  return (
    <Wrapper fallback={<p>Connecting…</p>}>
      <Setup />
    </Wrapper>
  );
}

// Without React.
export async function withoutReact() {
  const app = await init({ parentOrigin: "https://studio.example.com" }); // or init()
  app.context.project.name; // the platform's context
  if (app.setupCode()) {
    await app.exchangeSetupCode(); // your backend exchanges and keeps the token
    await app.updateInstallation({ status: "COMPLETED" });
  }
}

// The platform side.
export async function platformSide() {
  // TypeScript wants the element's null case ruled out; the rest is as written.
  const iframe = document.querySelector("iframe") as HTMLIFrameElement;
  const frame = await createAppFrame({
    iframe,
    appOrigin: "https://app.example.com",
    context, // { project, environment: { id, name, endpoint }, installation, user }
    handlers: {
      updateInstallation: (update) => api.patchInstallation(context.installation.id, update),
      showToast: ({ message, variant }) => toast(message, variant),
      // The bridge fills in environment.authToken and keeps it fresh.
      getSessionToken: () => api.sessionToken(context.installation.id), // { token, expiresIn }
    },
  });
  iframe.src = setupUrl; // with ?code=<setup code>
  return frame;
}

// The edge verifier.
export async function edge() {
  const verifier = await loadVerifier(); // the bundled module, or pass bytes / a WebAssembly.Module
  const decision = await decide(verifier, {
    authorization: request.headers.get("authorization"),
    lookup: (tokenId) => records.get(tokenId), // your replica, cache or KV
    environment: { id: "master", defaultStage: "PUBLISHED", publicGrants: [] },
    request: { api: "content", action: "read", environmentId: "master", model: "Post", now: Math.floor(Date.now() / 1000) },
  });
  // { allow, reason, principal?, filter?, masked }
  const status: 200 | 401 | 403 = httpStatus(decision);
  const action: string = METHOD_ACTIONS.GET;
  return { decision, status, action, unauthenticated: UNAUTHENTICATED.includes(decision.reason) };
}

// The GraphQL content gate.
declare const body: { query: string; variables?: Record<string, unknown> };
declare const environment: import("tally-sdk/verifier").EnvironmentRecord;
declare const authorization: string | null;
declare function lookup(tokenId: string): TokenRecord | null;
declare const upstreamAnswer: unknown;
export async function gateAtTheEdge() {
  const gate = await loadGate();
  const verifier = await loadVerifier();
  const planned = gate.plan({ request: body, environment, options: { now: Math.floor(Date.now() / 1000) } });
  if ("refused" in planned || "denied" in planned) return planned;
  const decisions = [];
  for (const check of planned.checks) decisions.push(await decide(verifier, { authorization, lookup, environment, request: check }));
  const authorized = gate.authorize(planned.handle, decisions);
  const { answer } = gate.finish(planned.handle, upstreamAnswer);
  return { authorized, answer };
}

// Elements (npm/README.md, "Elements").
async function elements() {
  const app = await init();
  app.autoResize();                                  // keep the frame as tall as the page
  if (app.element?.type === "field") {
    const { value, field } = app.element;            // field: { apiId, type }
    void value;
    void field;
    await app.setValue("#1e90ff");                   // checked against field.type by the platform
    await app.setInvalid(null);                      // or a message: the editor will not save
  }
  const colour = await app.openDialog(new URL("/palette", location.origin).href, { title: "Palette" });
  await app.navigate("/content/Post");
  const sure = await app.confirm({ message: "Go ahead?" });
  void colour;
  void sure;
  // in the dialog's page: await app.closeDialog("#ffd700");
}
void elements;

function Colour() {
  const { value, onChange, meta } = useFieldExtension();
  return <input value={String(value ?? "")} onChange={(e) => onChange(e.target.value)} aria-invalid={meta.error !== null} />;
}
function Words() {
  const { values } = useFormSidebarExtension();
  return <p>{Object.keys(values).length}</p>;
}
function Palette() {
  const { onCloseDialog } = useUiExtensionDialog();
  return <button onClick={() => onCloseDialog("#ffd700")}>Gold</button>;
}
function Page() {
  const { route, navigate } = usePageExtension();
  return <button onClick={() => navigate("/content/Post")}>{route}</button>;
}
void [Colour, Words, Palette, Page];
