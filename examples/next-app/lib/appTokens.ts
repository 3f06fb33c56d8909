// Where the backend keeps each environment's app token after the exchange.
// In memory here; a real app stores it encrypted (a database, a secret
// store) and uses it for work without a user: webhooks, background jobs.
// It never goes to the browser: pages use context.environment.authToken.
const tokens = new Map<string, string>();

export function keepAppToken(environmentId: string, appToken: string) {
  tokens.set(environmentId, appToken);
}

/** The id of the token kept for an environment (`<tokenId>.<secret>`). */
export function keptAppTokenId(environmentId: string): string | undefined {
  return tokens.get(environmentId)?.split(".")[0];
}

/** Forgets an environment's token: uninstalled, disabled or revoked (webhooks). */
export function dropAppToken(environmentId: string) {
  tokens.delete(environmentId);
}
