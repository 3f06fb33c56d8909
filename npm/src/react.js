// tally-sdk/react: <Wrapper> and useApp(), in the shape of Hygraph's
// @hygraph/app-sdk-react, over the same connection as tally-sdk.
//
// One page has one connection to its parent: Wrapper connects once per
// parentOrigin and shares the connection across re-mounts (React's
// StrictMode mounts twice; a second init would find the setup code already
// scrubbed from the URL).
import { createContext, createElement, useContext, useEffect, useState } from "react";
import { init } from "./index.js";

const AppState = createContext(null);
const connections = new Map();

function connect(parentOrigin, timeoutMs) {
  const key = `${parentOrigin} ${timeoutMs ?? ""}`;
  if (!connections.has(key)) {
    const pending = init(timeoutMs === undefined ? { parentOrigin } : { parentOrigin, timeoutMs });
    // A failed attempt is not cached: a remount may try again.
    pending.catch(() => connections.delete(key));
    connections.set(key, pending);
  }
  return connections.get(key);
}

/**
 * Connects to the parent and renders `children` once the context is there.
 * `fallback` renders while connecting; `errorFallback` (an element or
 * `(error) => element`) when the connection fails (default: `fallback`).
 */
export function Wrapper({ parentOrigin, timeoutMs, fallback = null, errorFallback, children }) {
  const [state, setState] = useState({ status: "connecting" });
  useEffect(() => {
    let live = true;
    let unsubscribe;
    connect(parentOrigin, timeoutMs).then(
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
  }, [parentOrigin, timeoutMs]);
  if (state.status === "connecting") return fallback;
  if (state.status === "error") {
    const shown = errorFallback === undefined ? fallback : errorFallback;
    return typeof shown === "function" ? shown(state.error) : shown;
  }
  return createElement(AppState.Provider, { value: state }, children);
}

/**
 * The app inside <Wrapper>: `{ context, installation, updateInstallation,
 * exchangeSetupCode, setupCode, showToast, resize, app }`.
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
    showToast: (toast) => app.showToast(toast),
    resize: (size) => app.resize(size),
    app,
  };
}
