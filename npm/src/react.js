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

/** The element inside <Wrapper>, checked to be of `type`. */
function useElement(hook, type) {
  const { app, context } = useApp();
  const element = context.element;
  if (element?.type !== type) {
    throw new Error(`${hook}() is for ${type} elements; this frame is ${element ? `a ${element.type} element` : "not an element"}`);
  }
  return { app, context, element };
}

/** What every element's hook shares: the platform's actions. */
function actions(app) {
  return {
    openDialog: (url, options) => app.openDialog(url, options),
    showToast: (toast) => app.showToast(toast),
    navigate: (to) => app.navigate(to),
    confirm: (question) => app.confirm(question),
  };
}

/**
 * A field element, as Hygraph's useFieldExtension: `{ value, onChange,
 * setInvalid, field, model, entry, locale, stage, isReadOnly, meta,
 * extension, openDialog, showToast, navigate, confirm }`. `onChange(value)`
 * is the SDK's setValue (checked by the platform against the field's type,
 * bursts sent as one); `value` follows what the platform pushes.
 */
export function useFieldExtension() {
  const { app, element } = useElement("useFieldExtension", "field");
  const [error, setError] = useState(null);
  return {
    value: element.value,
    onChange: (value) => app.setValue(value),
    setInvalid: (message) => {
      setError(message ?? null);
      return app.setInvalid(message ?? null);
    },
    field: element.field,
    model: element.model,
    entry: element.entry,
    locale: element.locale,
    stage: element.stage,
    isReadOnly: element.isReadOnly,
    meta: { error },
    extension: { config: element.config },
    ...actions(app),
  };
}

/**
 * A sidebar element, as Hygraph's useFormSidebarExtension: `{ model,
 * entry, values, form: { getFieldState(name) }, extension, openDialog,
 * showToast, navigate, confirm }`; re-renders as the editor's values change.
 */
export function useFormSidebarExtension() {
  const { app, element } = useElement("useFormSidebarExtension", "sidebar");
  return {
    model: element.model,
    entry: element.entry,
    values: element.values,
    form: { getFieldState: (name) => ({ value: element.values[name] }) },
    extension: { config: element.config },
    ...actions(app),
  };
}

/** A page element: `{ route, extension, openDialog, showToast, navigate, confirm }`. */
export function usePageExtension() {
  const { app, element } = useElement("usePageExtension", "page");
  return { route: element.route, extension: { config: element.config }, ...actions(app) };
}

/**
 * A dialog, as Hygraph's useUiExtensionDialog: `{ onCloseDialog(value),
 * options, extension }`; the opener's openDialog resolves with the value.
 */
export function useUiExtensionDialog() {
  const { app, element } = useElement("useUiExtensionDialog", "dialog");
  return { onCloseDialog: (value) => app.closeDialog(value), options: element.options, extension: { config: element.config } };
}
