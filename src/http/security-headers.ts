import type { FastifyHelmetOptions } from '@fastify/helmet';

/**
 * The Content-Security-Policy of every response but `/docs`: the console's. Its scripts are ES
 * modules from `/console/` and its styles one stylesheet, so nothing inline is allowed (no inline
 * `<script>`, no `on…=` attributes, no `style="…"` attributes, no `eval`): markup an attacker
 * smuggles into the page's `innerHTML` cannot run. `data:` images only for the inline favicon;
 * `fetch` only to this origin. No `upgrade-insecure-requests`: the service speaks plain HTTP on a
 * private network as often as behind TLS, and the upgrade would send its own page's requests to an
 * `https:` that is not there. On JSON answers the policy does nothing but forbid framing.
 */
export const CONSOLE_CSP_DIRECTIVES = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'"],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
} as const;

/**
 * @fastify/helmet for every route: the CSP above, `X-Frame-Options: DENY`, `nosniff`,
 * `Referrer-Policy: no-referrer`, the cross-origin isolation headers helmet sets by default. No
 * `Strict-Transport-Security`: this service does not terminate TLS, and the header would pin the
 * host name (and with helmet's default, its subdomains) to HTTPS for a year from behind a proxy
 * the operator configures; that is the TLS terminator's decision.
 */
export const HELMET_OPTIONS: FastifyHelmetOptions = {
  global: true,
  contentSecurityPolicy: {
    useDefaults: false,
    directives: Object.fromEntries(Object.entries(CONSOLE_CSP_DIRECTIVES).map(([k, v]) => [k, [...v]])),
  },
  frameguard: { action: 'deny' },
  referrerPolicy: { policy: 'no-referrer' },
  strictTransportSecurity: false,
};

/**
 * `/docs` keeps swagger-ui's own policy (its page needs the hashes of swagger-ui's inline script
 * and styles, which swagger-ui computes), with the console's rules where they differ: no framing,
 * and no `upgrade-insecure-requests` (see above).
 */
export function docsCsp(policy: string): string {
  return policy
    .split(';')
    .map((d) => d.trim())
    .filter((d) => d !== '' && d.split(/\s+/)[0]!.toLowerCase() !== 'upgrade-insecure-requests')
    .map((d) => (/^frame-ancestors\b/i.test(d) ? "frame-ancestors 'none'" : d))
    .join('; ');
}
