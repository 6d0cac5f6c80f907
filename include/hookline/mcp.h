/*
 * hookline/mcp.h - a Model Context Protocol client: an MCP server's tools
 * as ordinary hookline tools (hl_tool), over stdio or Streamable HTTP.
 *
 * Dual-era, as the 2026-07-28 revision defines it (basic/versioning.mdx
 * "Backward Compatibility"): the client prefers 2026-07-28, the
 * stateless revision ("modern"), and speaks 2025-11-25, 2025-06-18 and
 * 2025-03-26 ("legacy", the initialize handshake) with a server that
 * does not. hl_mcp_connect() finds out which: it sends server/discover
 * first; a DiscoverResult naming 2026-07-28, or a modern error
 * (UnsupportedProtocolVersionError -32022 naming it: the probe goes
 * again), makes the server modern; any other error (over HTTP a 4xx
 * whose body is no modern JSON-RPC error; over stdio also no answer
 * within 5 s) makes it legacy, and the initialize handshake follows.
 * The era and the version are the server's for the client's lifetime
 * (hl_mcp_protocol_version()).
 *
 * With a modern server every request is self-describing: its _meta has
 * io.modelcontextprotocol/protocolVersion, /clientCapabilities (roots,
 * sampling, elicitation only where a handler or roots were set) and
 * /clientInfo (and /logLevel once hl_mcp_set_log_level() set one); over
 * HTTP every POST has MCP-Protocol-Version, Mcp-Method and, for
 * tools/call and prompts/get, Mcp-Name with the name (resources/read:
 * the URI; "=?base64?...?=" when it is not plain printable ASCII). No
 * initialize, session, GET stream, ping or logging/setLevel. A result
 * with resultType "input_required" (tools/call, prompts/get,
 * resources/read) is answered by the handlers of hl_mcp_set_handler()
 * and hl_mcp_set_roots(), the same ones a legacy server's requests get,
 * but on the calling thread; the request then goes again with a new id,
 * the answers as inputResponses and the server's requestState unchanged,
 * up to 10 rounds (then HL_ERR_LIMIT). An input request no handler
 * answers fails the call (HL_ERR_PROVIDER naming the method): the server
 * must not ask for what the client did not declare. The time limit and
 * the run's cancellation cover all rounds, the handlers' time included.
 * A request refused with -32022 while the server lists 2026-07-28 goes
 * again once. An HTTP answer whose stream breaks before the response is
 * not resumable in this revision: the request goes again as a new one
 * (twice at most); legacy streams are resumed with Last-Event-ID. A
 * modern server that announces tools.listChanged gets
 * subscriptions/listen (toolsListChanged) at connect, before the tools
 * are listed: over HTTP a POST whose answer stream a thread of the
 * client keeps open (the legacy GET stream's place), opened again as a
 * new request when it ends (1 s, doubling to 30 s while it fails; the
 * tools listed again), given up after a refusal or 8 failures in a row;
 * over stdio one request whose notifications come on stdout. Its
 * notifications/tools/list_changed refresh the tools as a legacy
 * server's do; progress and log messages come on each request's own
 * stream.
 * JSON-RPC errors of the revision are named in messages: -32020 header
 * mismatch, -32021 a client capability the server requires, -32022
 * unsupported protocol version, and -32602 to resources/read, a resource
 * not found.
 *
 *   hl_mcp *m = hl_mcp_new_stdio("everything", argv);   // or hl_mcp_new_http()
 *   if (hl_mcp_connect(m) != HL_OK) puts(hl_mcp_errmsg(m));
 *   hl_mcp_add_to_agent(m, agent);       // the server's tools, kept in sync
 *   ...
 *   hl_mcp_free(m);                       // closes: kills and reaps the child
 *
 * What the client does on its own (legacy servers): answers the server's `ping`; answers
 * server requests (roots/list, elicitation/create, sampling/createMessage)
 * with the handler the application registered, else with JSON-RPC error
 * -32601; refreshes its tool list on notifications/tools/list_changed;
 * sends notifications/cancelled when a call is cancelled (hl_agent_cancel)
 * or times out; turns notifications into events for the observers added
 * with hl_mcp_add_observer() and, during a tool call, for the calling
 * run's observers:
 *   STDERR_WRITE  text = a line the stdio server wrote on stderr
 *   CUSTOM "mcp.progress"      data = {server, tool, progress, total?, message?}
 *   CUSTOM "mcp.log"           data = {server, level, logger?, data}
 *   CUSTOM "mcp.tools_changed" data = {server, tools: n}
 *   CUSTOM "mcp.protocol_error" data = {server, message, repeated?, last_message?}
 *                                (never dropped: see HL_MCP_MAX_QUEUED_EVENTS)
 *   CUSTOM "mcp.events_dropped" data = {server, dropped, cap}
 *                                (HL_MCP_MAX_QUEUED_EVENTS)
 *
 * Tool results as the model sees them: a result of only text content is
 * the text (items joined by "\n"); with structuredContent (validated
 * against the tool's outputSchema when it has one) the structured value;
 * otherwise an array of content items (text, image, audio, resource_link,
 * resource) as the server sent them. `isError: true` and JSON-RPC errors
 * become HL_ERR_EXECUTION_FAILED with the server's text, which the model
 * sees as the tool's error.
 *
 * Failures are never fatal to the process or to other servers: garbage
 * or invalid UTF-8 on the wire, a message over the size cap or an answer
 * to a request never sent fail the calls in flight with a message naming
 * the server; a server that exits fails its calls with HL_ERR_NETWORK
 * and how it ended ('mcp server "x" exited with status 3', or "was
 * killed by signal 9"), whether a call noticed it by its stdin refusing
 * a write (EPIPE) or the client by its exit first ("closed its stdin"
 * only for a server that stops reading and is not seen to go within
 * 1 s); a server that never answers, HL_ERR_TIMEOUT.
 *
 * Lifetime and ownership: hl_mcp_new_*() returns a client owned by the
 * caller, freed by hl_mcp_free(). Tools the client hands out hold a
 * reference to it, so it stays usable until the last tool is gone;
 * hl_mcp_free() closes the connection at once (later calls on its tools
 * fail with HL_ERR_STATE) and drops the caller's reference.
 *
 * Thread-safety: configure (hl_mcp_set_*, hl_mcp_add_*) before
 * hl_mcp_connect() from one thread. After connecting, hl_mcp_call(),
 * hl_mcp_ping(), the tools and hl_mcp_tools() may be used from any number
 * of threads at once. A stdio server's output is read by the library's
 * event loop (the one that runs HTTP requests), not by a thread per
 * server. Observers run on the client's worker thread, or on the thread
 * of a call: progress events, and the events that arrived before a
 * call's answer, are emitted before hl_mcp_call() returns (HTTP: on the
 * thread whose request received them). Handlers run on the worker
 * thread; their answers, and every other answer of the client, are sent
 * by a second thread of the client that runs no application code (a
 * ping is answered while a handler waits for its user). Neither may
 * call back into the same client synchronously.
 */
#ifndef HOOKLINE_MCP_H
#define HOOKLINE_MCP_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>
#include "status.h"
#include "tool.h"
#include "observer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hl_mcp hl_mcp;
typedef struct hl_agent hl_agent;

/** The revision the client prefers ("2026-07-28"; a legacy server gets
 *  the initialize handshake with "2025-11-25", see hl_mcp_connect()). */
#define HL_MCP_PROTOCOL_VERSION "2026-07-28"

/** New client for a server started as a child process: `argv` is the
 *  command and its arguments (NULL-terminated, argv[0] looked up in PATH),
 *  copied. `name` names the server in messages, events and /tools
 *  listings (copied; NULL: argv[0]'s base name until the server says its
 *  own, see hl_mcp_name()). Nothing runs until
 *  hl_mcp_connect(). NULL with hl_last_error() for bad parameters. */
HL_API hl_mcp *hl_mcp_new_stdio(const char *name, const char *const *argv);
/** Like hl_mcp_new_stdio() from one command line, split on blanks with
 *  '...' and "..." quoting and backslash escapes (no other shell syntax). */
HL_API hl_mcp *hl_mcp_new_command(const char *name, const char *command_line);
/** New client for a Streamable HTTP endpoint ("http://127.0.0.1:3001/mcp").
 *  `name` NULL: the URL's host. */
HL_API hl_mcp *hl_mcp_new_http(const char *name, const char *url);

/** stdio: set (or with NULL value, remove) an environment variable of the
 *  child; the child starts with the parent's environment plus these. */
HL_API hl_status hl_mcp_set_env(hl_mcp *mcp, const char *key, const char *value);
/** stdio: the child's working directory (copied). */
HL_API hl_status hl_mcp_set_cwd(hl_mcp *mcp, const char *dir);
/** HTTP: an extra request header "Name: value" (a static auth token;
 *  for OAuth see hl_mcp_set_oauth()). Values are secrets: they never
 *  appear in messages or events. */
HL_API hl_status hl_mcp_add_header(hl_mcp *mcp, const char *header_line);
/** HTTP: trust the CA certificates in the PEM file `path` (a private CA)
 *  instead of the system's store for an https:// URL; NULL or "" goes
 *  back to the system's store. Verification stays on: a server whose
 *  certificate does not chain to them fails hl_mcp_connect() with
 *  HL_ERR_NETWORK and a message naming the file. Checked now, as
 *  hl_openai_set_ca_file() does: HL_ERR_NOT_FOUND for a missing file,
 *  HL_ERR_IO for an unreadable one, HL_ERR_INVALID for one without a PEM
 *  certificate or for a stdio client; HL_ERR_STATE after connect. The
 *  path is copied. The config file's "ca_file" key of an MCP server entry
 *  sets it. */
HL_API hl_status hl_mcp_set_ca_file(hl_mcp *mcp, const char *path);
/**
 * OAuth 2.1 authorization (MCP Authorization, revision 2025-11-25 and
 * what 2026-07-28 adds to it, with the 2025-06-18 and 2025-03-26
 * servers too) for a Streamable HTTP
 * server. With it set, a 401 from the server starts the flow the spec
 * gives: the WWW-Authenticate challenge, the server's Protected Resource
 * Metadata (RFC 9728; a 2025-03-26 server without it: the authorization
 * server at the server's origin, or its default /authorize, /token and
 * /register endpoints), the authorization server's metadata (RFC 8414 or
 * OpenID discovery; its issuer checked, PKCE S256 required; a location
 * answering 3xx or 4xx gives way to the next, redirects are not
 * followed, a 5xx stops the flow), a client identity, then the
 * authorization code flow with PKCE S256, `state`, the resource
 * indicator (RFC 8707: the PRM's `resource`; for a 2025-03-26 server its
 * URL without fragment or trailing slash) and the redirect's `iss` (RFC
 * 9207: when present, or promised by the metadata, it must name the
 * server asked). The token then goes as "Authorization: Bearer" on every
 * request to the MCP server (and to no other host); it is refreshed with the refresh token when it expires or
 * the server answers 401, before a new authorization (a token just
 * refreshed and refused again goes on to a new authorization, which
 * reads the PRM again: the server may have moved to another
 * authorization server; a refresh token
 * the server refused, HTTP 400 or 401, is dropped and the user is asked
 * again; a refresh met by a 5xx, a 429 or no answer ends that request
 * with HL_ERR_HTTP, HL_ERR_RATE_LIMIT or the network's error, asks no
 * one, and the refresh token stays for the next request); a 403 with
 * error="insufficient_scope" authorizes again with the scope it asks for
 * added (one request causes two authorizations at most, then fails with
 * HL_ERR_AUTH). The standalone GET stream, refused with 401 (a revoked
 * or expired token), reopens at once with a refreshed token; it never
 * starts an authorization itself (the next request does). The
 * metadata's `resource` must be the server's URL or a
 * prefix of it (whole path segments), else the flow stops before the
 * user is asked. Tokens are secrets: they never appear in messages or
 * events, nor do the code, the PKCE verifier or the client secret when a
 * server quotes them back in an error.
 *
 * Client identity, first that applies: `client_id` (and
 * `client_secret`) registered in advance (bound to the authorization
 * server it was first used with: when the server's PRM names another
 * one, the authorization fails with HL_ERR_AUTH saying so rather than
 * showing it there, SEP-2352); `client_metadata_url` (an
 * https URL serving the client's metadata document) when the
 * authorization server says client_id_metadata_document_supported;
 * dynamic client registration (RFC 7591) when it offers it, naming
 * the `application_type` (below) and the authorization_code and
 * refresh_token grants. The scope asked for is the challenge's, else
 * the PRM's scopes_supported, with offline_access added when the
 * authorization server's metadata lists it (SEP-2207: this client wants
 * refresh tokens; never when it is not listed, nor to no scope). Token
 * endpoint authentication: client_secret_basic, client_secret_post,
 * private_key_jwt (with `sign`, below) or none, as the registration and
 * the server's metadata say.
 *
 * Authorization servers must be https:// except on loopback hosts
 * (localhost, 127.0.0.0/8, ::1). A failure is HL_ERR_AUTH with a message
 * naming the step and the URL ("mcp server \"x\": authorization server
 * metadata at URL: issuer ...").
 *
 * Threads: `authorize`, `assertion`, `sign` and the token store run on the
 * thread whose request met the 401 or 403: the one in hl_mcp_connect(), in
 * hl_mcp_call() (an agent's tool call), or the client's worker thread
 * (a tool list refresh); the store, and a refresh of an expiring token,
 * also on the thread of any request, the GET stream's included. One flow
 * at a time per client (other requests that need a token wait for it).
 * They must not call the same client.
 *
 * Cancellation: hl_mcp_free() and the cancellation of the run whose
 * request is in a flow or waits for one (hl_agent_cancel(),
 * hl_run_cancel()) end the requests to authorization servers and that
 * wait at once, with HL_ERR_CANCELLED. An `authorize` callback under way
 * is the application's code and cannot be interrupted: give it a time
 * limit, or make it return when the application closes or cancels. A
 * 401 to a notification starts no flow (notifications/cancelled goes out
 * from the thread of a run just cancelled); the next request renews the
 * token.
 */

/**
 * The user-agent step: show `authorization_url` to the user (a browser)
 * and return, in *redirect (malloc'd, the library frees it), the URL the
 * authorization server redirected to (at the redirect_uri), or just its
 * query "code=...&state=...". The library checks `state` and an "error"
 * parameter and exchanges the code. A failure status (message with
 * hl_fail) ends the authorization with that error.
 */
typedef hl_status (*hl_mcp_authorize_fn)(hl_mcp *mcp, const char *authorization_url, char **redirect,
                                         void *user_data);
/** Token store, load side: for the server at `server_url`, set *stored
 *  to the text a save gave (malloc'd, the library frees it), or leave it
 *  NULL when there is none. HL_OK either way; a failure is ignored (as
 *  no stored tokens) but said in the client's error message. */
typedef hl_status (*hl_mcp_token_load_fn)(hl_mcp *mcp, const char *server_url, char **stored,
                                          void *user_data);
/** Token store, save side: keep `stored` (borrowed; a JSON text with the
 *  tokens, the client identity and the token endpoint: a secret, store it
 *  as one) for `server_url`, replacing what was there. The text binds
 *  each credential to the authorization server that issued it (MCP
 *  2026-07-28, SEP-2352): the tokens name their issuer, and the client
 *  identities dynamic registration gave are kept by issuer, so a server
 *  that moves to another authorization server gets a new registration
 *  there and never the old one's client_id, secret or refresh token, and
 *  moving back finds the first one again. A text saved by an earlier
 *  version (one identity beside its issuer) loads as that identity at
 *  that issuer. */
typedef void (*hl_mcp_token_save_fn)(hl_mcp *mcp, const char *server_url, const char *stored,
                                     void *user_data);

/**
 * The JWT bearer grant's assertion (RFC 7523; hl_mcp_oauth.assertion):
 * set *jwt (malloc'd; the library wipes and frees it) to a JWT the
 * application holds for the authorization server `issuer` and the MCP
 * server `resource` (the PRM's resource indicator): a workload identity
 * token whose audience is that issuer (workload identity federation,
 * SEP-1933), or, with hl_mcp_oauth.idp_token_endpoint set, the user's ID
 * token from the enterprise identity provider (SEP-990). Called at each
 * authorization (a 401), so a short-lived token can be fetched fresh;
 * runs where `authorize` would. A failure status (message with hl_fail)
 * ends the authorization with HL_ERR_AUTH naming it.
 */
typedef hl_status (*hl_mcp_assertion_fn)(hl_mcp *mcp, const char *issuer, const char *resource, char **jwt,
                                         void *user_data);

/**
 * A signature with the application's private key (JWS, RFC 7515): sign
 * the `input_len` bytes of `input` (the JWS signing input, ASCII
 * "BASE64URL(header).BASE64URL(claims)") with algorithm `alg` (the
 * configured hl_mcp_oauth.signing_alg) and set *signature (malloc'd; the
 * library frees it) and *signature_len to the signature as JWS carries it
 * (RFC 7518): for ES256 the 64 bytes R || S (not the DER an OpenSSL
 * ECDSA signature comes as; ES384 96, ES512 132), for RS256/PS256 the
 * PKCS#1 bytes (the key's size, 256 bytes or more), for EdDSA (Ed25519)
 * 64 bytes. The key may live anywhere: the application's own OpenSSL, an
 * HSM, a cloud KMS; hookline has no crypto library and never sees it.
 * A failure status (message with hl_fail), or a signature whose length
 * does not fit `alg`, ends the authorization with HL_ERR_AUTH naming it.
 * The same callback signs every JWS the client needs: the private_key_jwt
 * client assertion and, with hl_mcp_oauth.dpop, the DPoP proofs (RFC
 * 9449) of token requests and of every request to the MCP server. Runs
 * where `authorize` would, on the thread of a request that refreshes a
 * token, and with dpop on the thread of every MCP request (over HTTP:
 * hl_mcp_connect(), hl_mcp_call()'s caller, the client's worker, sender and
 * stream threads), so it must be thread-safe then.
 */
typedef hl_status (*hl_mcp_sign_fn)(hl_mcp *mcp, const char *alg, const char *input, size_t input_len,
                                    unsigned char **signature, size_t *signature_len, void *user_data);

/** OAuth options. Fill with designated initialisers and
 *  `.size = sizeof(hl_mcp_oauth)`: fields are only ever appended. */
typedef struct hl_mcp_oauth {
  size_t size;                       /**< sizeof(hl_mcp_oauth) of the caller's header */
  const char *redirect_uri;          /**< where the server sends the user back (required
                                          unless client_credentials) */
  hl_mcp_authorize_fn authorize;     /**< the user-agent step (required unless
                                          client_credentials) */
  void *user_data;                   /**< for authorize and the token store */
  const char *client_id;             /**< pre-registered client (NULL: none) */
  const char *client_secret;         /**< its secret (NULL: a public client) */
  const char *client_metadata_url;   /**< https URL of the client's metadata document (NULL: none) */
  const char *client_name;           /**< for dynamic registration (NULL: "hookline") */
  hl_mcp_token_load_fn load_tokens;  /**< optional token store (both or neither) */
  hl_mcp_token_save_fn save_tokens;
  /** Machine to machine, no user (the MCP "OAuth client credentials"
   *  extension, client_secret_basic or _post): the client_credentials
   *  grant with client_id and client_secret, which it requires; no
   *  redirect_uri, authorize or PKCE. A 401 asks for a new token. */
  bool client_credentials;
  /** Dynamic client registration's `application_type` (OpenID Connect
   *  Dynamic Client Registration; MCP 2026-07-28 requires one, as an
   *  OpenID server takes a missing one for "web" and then refuses a
   *  loopback redirect_uri): "native" or "web". NULL: "native" when
   *  redirect_uri is on a loopback host or uses a private-use scheme
   *  (desktop, mobile and command-line programs, RFC 8252), else "web". */
  const char *application_type;
  /** Machine to machine with a JWT the application provides, no user and
   *  no secret of hookline's (the MCP authorization extensions "workload
   *  identity federation", SEP-1933, and "enterprise-managed
   *  authorization", SEP-990): at a 401, after discovery, the token
   *  request is the jwt-bearer grant (grant_type
   *  urn:ietf:params:oauth:grant-type:jwt-bearer) with this callback's JWT
   *  (or, with idp_token_endpoint, the ID-JAG exchanged for it) as
   *  `assertion`, the scope and the resource, and the client
   *  authentication of client_id (required) and client_secret. No
   *  redirect_uri, authorize or PKCE; not with client_credentials. A
   *  refusal (invalid_grant, invalid_scope, unauthorized_client) ends the
   *  request with HL_ERR_AUTH and the server's words; it is not retried
   *  with this or another grant. */
  hl_mcp_assertion_fn assertion;
  /** Enterprise-managed authorization (SEP-990, cross-app access): the
   *  token endpoint of the enterprise identity provider (https://, or
   *  http:// on loopback). The ID token `assertion` gives is exchanged
   *  there first (RFC 8693 token exchange: subject_token_type id_token,
   *  requested_token_type id-jag, audience the authorization server's
   *  issuer, resource the MCP server's) for an Identity Assertion JWT
   *  Authorization Grant, which goes to the authorization server as the
   *  jwt-bearer grant's assertion. NULL: the assertion goes as it is. */
  const char *idp_token_endpoint;
  /** The application's client at the identity provider (required with
   *  idp_token_endpoint) and its secret (NULL: a public client, the id in
   *  the form; else client_secret_basic). */
  const char *idp_client_id;
  const char *idp_client_secret;
  /** private_key_jwt client authentication (RFC 7523 section 2.2, as
   *  OpenID Connect Core section 9 and the MCP "OAuth client credentials"
   *  extension use it): the client proves its identity with a JWT it
   *  signs instead of a secret. With `sign` set, a token request (the
   *  client_credentials grant, which then needs no client_secret, and the
   *  other grants' and refreshes') carries client_assertion_type
   *  urn:ietf:params:oauth:client-assertion-type:jwt-bearer and
   *  client_assertion: a compact JWS hookline builds (header alg,
   *  typ "JWT", kid; claims iss = sub = client_id, aud = the
   *  authorization server's issuer as RFC 7523bis requires (not the token
   *  endpoint, which a mix-up attack could swap), a random jti, iat, exp
   *  60 s later) and `sign` signs. Used when the authorization server's
   *  token_endpoint_auth_methods_supported lists private_key_jwt (and its
   *  token_endpoint_auth_signing_alg_values_supported, when given, lists
   *  `signing_alg`), or lists nothing and there is no client_secret; with
   *  a client_secret too, a server that does not list it gets the secret
   *  instead; without one, the authorization fails with HL_ERR_AUTH
   *  saying so before any token request. Needs client_id (the key is
   *  registered for it), or signing_jwk to register one. The assertion is a credential: it never appears
   *  in messages or events, even when a server quotes it back. A signer
   *  cannot come from a config file: it is code. */
  hl_mcp_sign_fn sign;
  /** JWS algorithm of `sign`'s key (required with it): "ES256", "ES384",
   *  "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512" or
   *  "EdDSA" (else HL_ERR_INVALID). */
  const char *signing_alg;
  /** The key's id at the authorization server (JWS "kid"; NULL: none). */
  const char *signing_kid;
  /** The public key as a JWK (JSON text, RFC 7517; NULL: none). With it,
   *  dynamic client registration at a server that lists private_key_jwt
   *  (and the alg) registers the client with that method and this key
   *  (RFC 7591 `jwks`, with signing_kid as its "kid" when it has none;
   *  `token_endpoint_auth_signing_alg`), so that no
   *  secret is issued; a pre-registered client's key is known to its
   *  server already. Also what DPoP (RFC 9449) proofs carry, so that adding
   *  DPoP changes nothing here. Checked now: a JSON object with "kty" and
   *  without the private "d" (else HL_ERR_INVALID). */
  const char *signing_jwk;
  /** DPoP (RFC 9449, the MCP DPoP extension): sender-constrained tokens.
   *  Needs sign and signing_jwk (else HL_ERR_INVALID): every token request
   *  (each grant and refresh) carries a `DPoP` proof signed by `sign` with
   *  signing_jwk in its header; a token the server answers with
   *  token_type DPoP goes to the MCP server as "Authorization: DPoP
   *  <token>" with a fresh proof per request (htm, htu the server's URL,
   *  ath the token's hash); one of type Bearer stays Bearer. A server's
   *  `use_dpop_nonce` refusal with a DPoP-Nonce is answered by one retry
   *  with that nonce, and later proofs to that URL carry its latest
   *  nonce. A failing signer ends the request with HL_ERR_AUTH. Proofs,
   *  like tokens, never appear in messages or events. */
  bool dpop;
} hl_mcp_oauth;

/** HTTP: authorize with OAuth as above. Strings are copied, `opts` is
 *  borrowed for the call. Before hl_mcp_connect() (HL_ERR_STATE after);
 *  HL_ERR_INVALID for a stdio client, a missing redirect_uri or
 *  authorize (client_id and client_secret with client_credentials; a
 *  client_id with assertion; assertion and idp_client_id with
 *  idp_token_endpoint, an https or loopback URL; a client_id or a
 *  signing_jwk, and a known signing_alg, with sign; a public
 *  signing_jwk; sign and signing_jwk with dpop), an application_type
 *  other than "native" or "web", or a size too small. With sign,
 *  client_credentials needs no client_secret. Do not also add an Authorization header with
 *  hl_mcp_add_header(). */
HL_API hl_status hl_mcp_set_oauth(hl_mcp *mcp, const hl_mcp_oauth *opts);
/** Time limit of one request (initialize, tools/list, a tool call) in
 *  milliseconds; 0: none. Default 60,000. A call over it fails with
 *  HL_ERR_TIMEOUT and the server gets notifications/cancelled. Stdio: may
 *  be changed at any time (later requests use it); HTTP: before connect. */
HL_API void hl_mcp_set_timeout_ms(hl_mcp *mcp, unsigned timeout_ms);
/** Cap on one message from the server in bytes (default 16 MiB). Over
 *  HTTP, an answer that is no message (an error page, a 401's body) is
 *  capped at 64 KiB; an authorization server's answers too. Over either
 *  cap the request fails with HL_ERR_TOO_LARGE naming the cap. */
HL_API void hl_mcp_set_max_message_bytes(hl_mcp *mcp, size_t max_bytes);
/** Progress extends a request's time limit (the TypeScript SDK's
 *  resetTimeoutOnProgress and maxTotalTimeout): with `reset` true, each
 *  notifications/progress the server sends for a request restarts its
 *  hl_mcp_set_timeout_ms() limit, so a long operation that reports
 *  progress more often than that limit runs to its end; `max_total_ms`
 *  (0: none) still caps the request's whole duration. A request that
 *  goes past either fails with HL_ERR_TIMEOUT and the server gets
 *  notifications/cancelled. Default: off (the limit counts from the
 *  request). Stdio: may be changed at any time (later requests use it);
 *  HTTP: before hl_mcp_connect() (HL_ERR_STATE after). */
HL_API hl_status hl_mcp_set_timeout_on_progress(hl_mcp *mcp, bool reset, unsigned max_total_ms);
/** Prefix for the names of the tools handed out ("gh_" makes "gh_search");
 *  copied. Names are cut to the 64 characters hookline allows. */
HL_API hl_status hl_mcp_set_prefix(hl_mcp *mcp, const char *prefix);
/** Only these server tool names (NULL-terminated, copied); NULL: all. */
HL_API hl_status hl_mcp_set_include(hl_mcp *mcp, const char *const *names);
/** Never these server tool names (NULL-terminated, copied). */
HL_API hl_status hl_mcp_set_exclude(hl_mcp *mcp, const char *const *names);
/** Receive the events listed at the top of this file (takes a reference). */
HL_API hl_status hl_mcp_add_observer(hl_mcp *mcp, hl_observer *obs);

/** Cap on the events waiting for slow observers: a server's log
 *  messages, stderr lines and protocol errors queued for the worker
 *  thread, and a call's progress events queued for its thread. An event
 *  over either cap (this many events, or HL_MCP_MAX_QUEUED_BYTES of
 *  JSON in the queue) is dropped and counted: a server that floods
 *  notifications cannot grow the client's memory without bound. A drop
 *  queues one CUSTOM "mcp.events_dropped" event, data = {server,
 *  dropped: n, cap}, where the events went missing; the drops that
 *  follow until the observers get it are counted in its n, so a flood
 *  is reported once per queue's worth of events observed, not once per
 *  drop. Answers are never dropped, nor the tool list refresh that
 *  list_changed asks for, nor a protocol error (what a user must see
 *  when a server misbehaves): those wait beside the caps, a few at most;
 *  one more while they wait is counted in the last one's `repeated`,
 *  and its message replaces that event's `last_message`: a user sees
 *  how many more came, and what the last of them said. */
#define HL_MCP_MAX_QUEUED_EVENTS 1024
#define HL_MCP_MAX_QUEUED_BYTES (4u << 20)
/** How many events this client dropped over the caps above since it was
 *  made. Any thread. */
HL_API unsigned long long hl_mcp_events_dropped(const hl_mcp *mcp);

/** Cap on the server's requests waiting for the application's handlers
 *  (sampling/createMessage, elicitation/create, roots/list: answered one
 *  at a time by the client's worker thread): a request over either cap
 *  (this many waiting, or HL_MCP_MAX_QUEUED_REQUEST_BYTES of JSON) is
 *  not queued; it is answered at once with JSON-RPC error -32603
 *  "client busy: ..." and counted, so a server that floods requests
 *  cannot grow the client's memory without bound. One request always
 *  fits, however large. A `ping` never waits with those: its answer is
 *  sent by the client's sender thread, which sends every answer and
 *  runs no handler, so it goes out while a handler asks its user (over
 *  stdio the thread that read the ping writes it at once when the server
 *  takes it without waiting). */
#define HL_MCP_MAX_QUEUED_REQUESTS 64
#define HL_MCP_MAX_QUEUED_REQUEST_BYTES (4u << 20)
/** Cap on the client's answers (pings' results, the refusals above,
 *  handlers' results) waiting for a server that does not read them as
 *  fast as it sends requests. Reached, the client applies back-pressure
 *  instead of dropping answers: it stops reading the server (stdio: its
 *  stdout, after the lines of the read under way, at most 32 KB of
 *  requests more; HTTP: the stream that carries the requests) until
 *  answers leave, so a slow server still gets every answer. */
#define HL_MCP_MAX_QUEUED_REPLIES 1024
/** A server that takes none of the client's answers for this long (ms)
 *  while they wait (stdio: no byte of a message written to its stdin
 *  taken; HTTP: no answer sent while HL_MCP_MAX_QUEUED_REPLIES wait, or
 *  one answer's POST without progress: no byte of it taken, or, once it
 *  was all taken, no end of the server's response, since a server
 *  answers an answer with 202 at once; a response that trickles is no
 *  progress) is a dead peer: the session fails. Its calls in flight,
 *  their HTTP streams ended, and every call after, fail with
 *  HL_ERR_NETWORK and 'mcp server "x" took none of the client's answers
 *  for 10 s (HL_MCP_ANSWER_TIMEOUT_MS): a dead peer' (hl_last_error());
 *  the observers get that text as an "mcp.protocol_error" event; the
 *  answers waiting are dropped and counted with the refused. A server
 *  that reads slowly is alive as long as it takes bytes: HTTP answers
 *  have no other time limit (not hl_mcp_set_timeout_ms()'s), and every
 *  one arrives, whole and in order. The bytes the kernel holds for the
 *  server count as taken once they leave the client's send queue; the
 *  last of an answer, in the server's receive buffer (~128 KB with
 *  Linux's defaults), must be read within this bound. hl_mcp_free() does
 *  not wait for it: it ends an answer's POST at once. */
#define HL_MCP_ANSWER_TIMEOUT_MS 10000
/** How many requests of the server this client refused, or left
 *  unanswered because the session failed, since it was made. Any
 *  thread. */
HL_API unsigned long long hl_mcp_requests_refused(const hl_mcp *mcp);

/**
 * A handler for a server-to-client request. `params` is borrowed (may be
 * NULL). Return HL_OK with *result set to a new JSON object (the library
 * takes it), or a failure status with a message (hl_fail), which the
 * server receives as a JSON-RPC error. Runs on a thread of the client
 * (never the reader), so it may take its time (ask a user) but must be
 * thread-safe for its user_data.
 */
typedef hl_status (*hl_mcp_request_fn)(hl_mcp *mcp, const char *method, const cJSON *params,
                                       cJSON **result, void *user_data);
/** Answer the server's `method` requests ("elicitation/create",
 *  "roots/list", "sampling/createMessage", ...) with `fn`: a legacy
 *  server's requests (on the client's worker thread) and a modern
 *  server's inputRequests of an input_required result (on the thread of
 *  the call that got it), so one handler serves both eras. Registering
 *  one of these three also declares the matching client capability (in
 *  `initialize`, or in every modern request's _meta). An
 *  elicitation/create handler that accepts gets the requested schema's
 *  defaults filled in for the fields it left out. Before hl_mcp_connect(). */
HL_API hl_status hl_mcp_set_handler(hl_mcp *mcp, const char *method, hl_mcp_request_fn fn,
                                    void *user_data);
/** Elicitation modes (client/elicitation.mdx of 2025-11-25 and 2026-07-28):
 *  form (the data passes through the client) and url (the user opens a
 *  URL out of band; only the URL passes through the client). */
typedef enum hl_mcp_elicitation_mode {
  HL_MCP_ELICIT_FORM = 1,
  HL_MCP_ELICIT_URL = 2
} hl_mcp_elicitation_mode;
/** The elicitation modes the client declares with its elicitation/create
 *  handler: HL_MCP_ELICIT_* flags, default HL_MCP_ELICIT_FORM. A request
 *  in a mode not declared (a request without `mode` is form) never
 *  reaches the handler: a legacy server's request gets JSON-RPC -32602
 *  (Invalid params), as 2025-11-25 requires of the client; a modern
 *  input request fails the call with HL_ERR_PROVIDER naming the mode
 *  (an input request has no error answer, and the server must not send
 *  it). A handler of url mode must show the whole URL and open it only
 *  with the user's consent, never fetch it itself (the specification's
 *  MUSTs). Before hl_mcp_connect(), from the configuring thread;
 *  HL_ERR_INVALID for 0 or bits outside the enum. */
HL_API hl_status hl_mcp_set_elicitation_modes(hl_mcp *mcp, unsigned modes);
/** Convenience for roots/list: the client's roots, a JSON array of
 *  {"uri":"file:///...","name":...} (deep-copied). */
HL_API hl_status hl_mcp_set_roots(hl_mcp *mcp, const cJSON *roots);

/** Which protocol era the client speaks with the server (MCP 2026-07-28,
 *  basic/versioning.mdx). */
typedef enum hl_mcp_era {
  /** Default: probe with server/discover and fall back to initialize as
   *  the revision says (a stdio server that ignores the probe costs its
   *  5 s wait at each connect). */
  HL_MCP_ERA_AUTO = 0,
  /** 2026-07-28 only: a server that does not speak it fails
   *  hl_mcp_connect() with HL_ERR_UNSUPPORTED (no initialize is sent). */
  HL_MCP_ERA_MODERN,
  /** The initialize handshake at once, no probe (2025-11-25, 2025-06-18,
   *  2025-03-26): for a server known to be legacy that ignores or
   *  mishandles a request before initialize. */
  HL_MCP_ERA_LEGACY
} hl_mcp_era;
/** Choose the era (default HL_MCP_ERA_AUTO). Before hl_mcp_connect()
 *  (HL_ERR_STATE after), from the thread that configures the client;
 *  HL_ERR_INVALID for a value outside the enum. */
HL_API hl_status hl_mcp_set_era(hl_mcp *mcp, hl_mcp_era era);

/**
 * Start the server (stdio) or open the session (HTTP), find out the
 * server's era with server/discover (see the top of this file); a
 * legacy server then gets the initialize handshake and
 * notifications/initialized; list the tools (every page). HTTP: also
 * opens the standalone GET stream (legacy) or subscriptions/listen
 * (modern, when the server has tools.listChanged) and waits (up to 5 s,
 * or the request time limit if shorter) for the server to answer it,
 * since what a server sends there before it is open is lost. HL_OK, or
 * an error with hl_mcp_errmsg(): the
 * command cannot be started, the server refused, an unsupported protocol
 * version, a transport failure. Once only.
 */
HL_API hl_status hl_mcp_connect(hl_mcp *mcp);

/** Close the connection (HTTP: DELETE the session; stdio: close its stdin,
 *  wait up to 2 s, then SIGTERM, then SIGKILL, and reap it), fail the
 *  calls in flight with HL_ERR_STATE and drop the caller's reference.
 *  NULL is fine. */
HL_API void hl_mcp_free(hl_mcp *mcp);

/** The server's name as given; when none was given, the server's own
 *  serverInfo.name once connected, else the default (borrowed; valid
 *  while the client lives). */
HL_API const char *hl_mcp_name(const hl_mcp *mcp);
/** Message of the client's last failure (not thread-specific: prefer the
 *  status and hl_last_error() of each call when several threads call). */
HL_API const char *hl_mcp_errmsg(const hl_mcp *mcp);
/** The protocol version agreed on: "2026-07-28" for a modern server
 *  (see the top of this file), a legacy one's initialize answer
 *  ("2025-11-25", "2025-06-18", "2025-03-26"); "" before connecting.
 *  Borrowed, valid while the client lives; fixed once hl_mcp_connect()
 *  returned, so any thread may read it then. */
HL_API const char *hl_mcp_protocol_version(const hl_mcp *mcp);
/** Whether the server speaks the stateless 2026-07-28 revision (false
 *  before connecting and for a legacy server). Any thread after connect. */
HL_API bool hl_mcp_is_modern(const hl_mcp *mcp);
/** The server's initialize result (serverInfo, capabilities,
 *  instructions), or a modern server's server/discover result
 *  (supportedVersions, capabilities, serverInfo, instructions), borrowed;
 *  NULL before connecting. */
HL_API const cJSON *hl_mcp_server_info(const hl_mcp *mcp);

/**
 * The server's tools as hookline tools, a new registry the caller frees
 * (hl_tools_free()); each tool is shared (reference counted) with the
 * client. Filters and prefix applied; tools whose execution.taskSupport
 * is "required" are left out (a CUSTOM "mcp.note" event says so), and so
 * are, over HTTP, tools whose x-mcp-header annotations are invalid, and
 * tools whose inputSchema or outputSchema has a $ref (or $dynamicRef)
 * outside the schema itself: $ref is never fetched, and a schema that
 * cannot be validated for an unresolved external $ref is rejected rather
 * than treated as permissive (MCP 2026-07-28 basic/index.mdx "$ref
 * Resolution"; the note names the tool and the $ref). Each tool's schema
 * is the server's inputSchema unchanged (every JSON Schema keyword is
 * kept for the model); arguments are validated against the part hookline
 * enforces (tool.h), the server checks the rest. Over HTTP a call carries the
 * tool's Mcp-Param-{Name} headers. Reflects the latest tools/list
 * (refreshed on list_changed, and when its ttlMs ran out at the next
 * hl_mcp_sync_tools() or agent run).
 */
HL_API hl_tools *hl_mcp_tools(hl_mcp *mcp);
/** The server's raw tool list (array of Tool objects as sent, including
 *  the left-out ones except those with invalid x-mcp-header annotations,
 *  which the 2026-07-28 revision excludes), a deep copy the caller frees. */
HL_API cJSON *hl_mcp_tools_json(hl_mcp *mcp);
/** Increases each time the tool list is refreshed. */
HL_API unsigned hl_mcp_tools_generation(const hl_mcp *mcp);
/** Fetch the tool list again now (what list_changed triggers). */
HL_API hl_status hl_mcp_refresh_tools(hl_mcp *mcp);
/** Make `registry` hold this client's current tools: add new ones,
 *  replace changed ones, remove those the server dropped; other tools in
 *  the registry are left alone. A list whose ttlMs ran out is fetched
 *  again first (a failure keeps the old list, with an "mcp.note" event).
 *  Not thread-safe for the registry. */
HL_API hl_status hl_mcp_sync_tools(hl_mcp *mcp, hl_tools *registry);
/** Add the client's tools to `agent` and keep them in sync: when the list
 *  changed, the agent's registry is updated at the start of its next run
 *  (never during one); a list whose ttlMs ran out is fetched again then.
 *  The agent holds a reference to the client. */
HL_API hl_status hl_mcp_add_to_agent(hl_mcp *mcp, hl_agent *agent);
/** For a tool handed out by any client: that client's name (borrowed), or
 *  NULL for a tool that is not an MCP tool. */
HL_API const char *hl_mcp_tool_server(const hl_tool *tool);

/**
 * Call the server's tool `name` (the server's own name, no prefix) with
 * `args` (borrowed; NULL = {}). On HL_OK *result is the mapped result
 * (see above), the caller's. `ctx` (may be NULL) is the run: its
 * cancellation cancels the call and progress events go to its observers.
 * The tool's error (isError or a JSON-RPC error) is HL_ERR_EXECUTION_FAILED;
 * *raw (if not NULL) receives the server's raw result or error object
 * (the caller's) either way. Over HTTP the call carries the Mcp-Param-*
 * headers of the tool's x-mcp-header arguments, as the last tools/list
 * declares them (none for a tool not in it; an argument no header can
 * carry, such as a fraction, is HL_ERR_INVALID_ARGUMENTS before anything
 * is sent); refused as HeaderMismatch (HTTP 400, -32020), the client
 * lists the tools again and tries once more.
 */
HL_API hl_status hl_mcp_call(hl_mcp *mcp, hl_context *ctx, const char *name, const cJSON *args,
                             cJSON **result, cJSON **raw);
/** Send `ping` and wait for the answer. A modern server has no ping:
 *  server/discover, which it must answer, goes instead. */
HL_API hl_status hl_mcp_ping(hl_mcp *mcp);
/** Send any request and wait: *result is the caller's copy of the result.
 *  A JSON-RPC error is HL_ERR_EXECUTION_FAILED with "error CODE: message".
 *  A method with a control character (it becomes an HTTP header value) is
 *  HL_ERR_INVALID before anything is sent. */
HL_API hl_status hl_mcp_request(hl_mcp *mcp, hl_context *ctx, const char *method,
                                const cJSON *params, cJSON **result);
/** Ask the server to send log messages at `level` and above ("debug",
 *  "info", ... "emergency"); they arrive as "mcp.log" events. A legacy
 *  server gets logging/setLevel; with a modern one the level goes in
 *  the _meta of every later request (io.modelcontextprotocol/logLevel:
 *  a modern server logs only for requests that carry it), HL_OK at once
 *  (HL_ERR_INVALID for an unknown level). Any thread. */
HL_API hl_status hl_mcp_set_log_level(hl_mcp *mcp, const char *level);

#ifdef __cplusplus
}
#endif
#endif
