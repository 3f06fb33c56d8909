// tally-sdk: the app side. Connects an app page (inside the platform's iframe)
// to its parent: context, setup code, exchange through the app backend,
// updateInstallation. The work is done by the sdk-wasm module (dist/app/);
// this file loads it once and gives it an idiomatic surface.
import loadModule, { init as connect } from "../dist/app/tally_sdk.js";

let loading;
/** Loads the SDK's wasm once (init() does this for you). */
export function ready() {
  return (loading ??= loadModule());
}

/**
 * Connects to the parent frame. Resolves once the parent answered with the
 * context; rejects with a TallyError (`code` "timeout", "not_in_frame",
 * "no_parent_origin", "parent_not_pinned", "invalid_argument", ...).
 * Without `parentOrigin`/`parentOrigins` the platform's origin is learned
 * from the browser (see README, "Which page may talk to the app").
 * @param {{ parentOrigin?: string, parentOrigins?: string[], timeoutMs?: number }} [options]
 * @returns {Promise<App>}
 */
export async function init(options) {
  await ready();
  return new App(await connect(options));
}

/** A connected app. */
export class App {
  #app;
  #burst = null;
  /** @param {object} app the wasm handle (use init()) */
  constructor(app) {
    this.#app = app;
  }
  /** `{ project, environment, installation, user? }` */
  get context() {
    return this.#app.context;
  }
  /** `{ id, status, config }` */
  get installation() {
    return this.#app.installation;
  }
  /** The setup code captured from `?code=`, or null. */
  setupCode() {
    return this.#app.setupCode() ?? null;
  }
  /** `context.project.mgmtApi` without its last path segment. */
  managementApiBaseUrl() {
    return this.#app.managementApiBaseUrl();
  }
  /** @param {{ status?: "PENDING"|"COMPLETED"|"DISABLED"|"UNINSTALLED", config?: object }} update */
  updateInstallation(update) {
    return this.#app.updateInstallation(update);
  }
  /** @param {{ endpoint?: string }} [options] */
  exchangeSetupCode(options) {
    return this.#app.exchangeSetupCode(options);
  }
  /**
   * A session token for this frame that is not due for refresh (the
   * platform refreshes it and pushes the new context).
   * @returns {Promise<string>}
   */
  getSessionToken() {
    return this.#app.request("getSessionToken");
  }
  /** @param {{ message: string, variant?: "info"|"success"|"warning"|"error" }} toast */
  showToast(toast) {
    return this.#app.request("showToast", toast);
  }
  /** @param {{ height: number, width?: number }} size */
  resize(size) {
    return this.#app.request("resize", size);
  }
  // Element APIs (typed and described in index.d.ts; the bridge checks
  // each call and what the frame may do).
  autoResize() {
    const body = document.body;
    let last = -1;
    const fit = () => {
      const height = Math.ceil(body.getBoundingClientRect().bottom + (parseFloat(getComputedStyle(body).marginBottom) || 0));
      if (height !== last) this.resize({ height: (last = height) }).catch(() => {});
    };
    const observer = new ResizeObserver(fit);
    observer.observe(body);
    fit();
    return () => observer.disconnect();
  }
  get element() {
    return this.#app.context?.element ?? null;
  }
  // A burst of values (50 ms) is sent once, with the last; every call
  // settles with that one answer.
  setValue(value) {
    const burst = (this.#burst ??= { waiters: [] });
    burst.value = value;
    if (burst.waiters.length === 0) {
      setTimeout(() => {
        this.#burst = null;
        const sent = this.#app.request("setValue", { value: burst.value });
        for (const [resolve, reject] of burst.waiters) sent.then(resolve, reject);
      }, 50);
    }
    return new Promise((resolve, reject) => burst.waiters.push([resolve, reject]));
  }
  setInvalid(message) {
    return this.#app.request("setInvalid", { message: message ?? null });
  }
  openDialog(url, options) {
    return this.#app.request("openDialog", options === undefined ? { url } : { url, options });
  }
  closeDialog(value = null) {
    return this.#app.request("closeDialog", { value });
  }
  navigate(to) {
    return this.#app.request("navigate", { to });
  }
  confirm({ message, title }) {
    return this.#app.request("confirm", title === undefined ? { message } : { message, title });
  }
  /**
   * Calls `callback(context)` on every context the parent pushes.
   * @returns {() => void} unsubscribe
   */
  onContextChange(callback) {
    const id = this.#app.onContextChange(callback);
    return () => this.#app.offContextChange(id);
  }
  /** Disconnects; calls in flight reject with code "closed". */
  close() {
    this.#app.close();
  }
}

/** Whether `err` is an SDK error (it then has a stable `code`). */
export function isTallyError(err) {
  return err instanceof Error && err.name === "TallyError" && typeof err.code === "string";
}
