// tally-sdk/react: <Wrapper> and useApp(), in the shape of Hygraph's
// @hygraph/app-sdk-react, over the same connection as tally-sdk.
//
// One page has one connection to its parent: Wrapper connects once per
// set of options and shares the connection across re-mounts (React's
// StrictMode mounts twice; a second init would find the setup code already
// scrubbed from the URL).
import { createContext, createElement, useContext, useEffect, useState } from "react";
import { init } from "./index.js";

const AppState = createContext(null);
const connections = new Map();

function connect(options, key) {
  if (!connections.has(key)) {
    const pending = init(options);
    // A failed attempt is not cached: a remount may try again.
    pending.catch(() => connections.delete(key));
    connections.set(key, pending);
  }
  return connections.get(key);
}

/** What Wrapper shows when connecting fails and no errorFallback is given. */
function shownError(error) {
  return createElement("p", { role: "alert", "data-tally-error": error?.code ?? "" }, String(error?.message ?? error));
}

/**
 * Connects to the parent and renders `children` once the context is there.
 * `parentOrigin` / `parentOrigins` pin the platform's origin (without them it
 * is learned from the browser). `fallback` renders while connecting;
 * `errorFallback` (an element or `(error) => element`) when the connection
 * fails — by default the error's message, so a misplaced app never shows a
 * blank page.
 */
export function Wrapper({ parentOrigin, parentOrigins, timeoutMs, fallback = null, errorFallback = shownError, children }) {
  const [state, setState] = useState({ status: "connecting" });
  const options = {};
  if (parentOrigin !== undefined) options.parentOrigin = parentOrigin;
  if (parentOrigins !== undefined) options.parentOrigins = parentOrigins;
  if (timeoutMs !== undefined) options.timeoutMs = timeoutMs;
  const key = JSON.stringify(options);
  useEffect(() => {
    let live = true;
    let unsubscribe;
    connect(options, key).then(
      (app) => {
        if (!live) return;
        setState({ status: "ready", app, context: app.context });
        unsubscribe = app.onContextChange((context) => live && setState({ status: "ready", app, context }));
      },
      (error) => live && setState({ status: "error", error }),
    );
    return () => {
      live = false;
      unsubscribe?.();
    };
    // `options` is rebuilt each render; `key` is its identity.
  }, [key]);
  if (state.status === "connecting") return fallback;
  if (state.status === "error") {
    return typeof errorFallback === "function" ? errorFallback(state.error) : errorFallback;
  }
  return createElement(AppState.Provider, { value: state }, children);
}

/**
 * The app inside <Wrapper>: `{ context, installation, updateInstallation,
 * exchangeSetupCode, setupCode, getSessionToken, showToast, resize, app }`.
 * Re-renders when the platform pushes a new context (a refreshed
 * `context.environment.authToken`, an updated installation).
 */
export function useApp() {
  const state = useContext(AppState);
  if (state === null) throw new Error("useApp() must be called inside <Wrapper>");
  const { app, context } = state;
  return {
    context,
    installation: context.installation,
    updateInstallation: (update) => app.updateInstallation(update),
    exchangeSetupCode: (options) => app.exchangeSetupCode(options),
    setupCode: app.setupCode(),
    getSessionToken: () => app.getSessionToken(),
    showToast: (toast) => app.showToast(toast),
    resize: (size) => app.resize(size),
    app,
  };
}
