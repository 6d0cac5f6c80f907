/*
 * examples/common/token_file.c - the OAuth token store of the examples: one
 * JSON object {"<server URL>": "<what the library saved>"} (each value
 * binds the tokens and client registrations to the issuer of the
 * authorization server that gave them, keyed by that issuer: the
 * library's part, see hl_mcp_token_save_fn; an entry from before loads
 * as one registration at its issuer) in
 * $XDG_CONFIG_HOME/hookline/mcp-tokens.json (else
 * ~/.config/hookline/mcp-tokens.json). The file holds secrets: it is
 * created with mode 0600 in a directory made 0700, written whole to a
 * private temporary file and renamed over the old one, so a crash never
 * leaves half a file and no other user can read it at any moment.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mcp_oauth.h"

hl_status ex_mcp_oauth_token_path(ex_mcp_oauth *o) {
  const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
  int n;
  if (xdg && *xdg == '/')
    n = snprintf(o->token_path, sizeof o->token_path, "%s/hookline/mcp-tokens.json", xdg);
  else if (home && *home)
    n = snprintf(o->token_path, sizeof o->token_path, "%s/.config/hookline/mcp-tokens.json", home);
  else
    return hl_fail(HL_ERR_INVALID, "OAuth tokens: neither XDG_CONFIG_HOME nor HOME is set");
  if (n < 0 || (size_t)n >= sizeof o->token_path)
    return hl_fail(HL_ERR_INVALID, "OAuth tokens: the configuration directory's path is too long");
  return HL_OK;
}

/* The file as JSON (a new object when it does not exist); NULL with the
 * message set when it cannot be read or is no object. */
static cJSON *read_file(const ex_mcp_oauth *o) {
  FILE *f = fopen(o->token_path, "r");
  if (!f) {
    if (errno == ENOENT) return cJSON_CreateObject();
    hl_fail(HL_ERR_IO, "%s: %s", o->token_path, strerror(errno));
    return NULL;
  }
  char *text = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len + 4096 + 1 > cap) {
      char *nt = realloc(text, cap = cap ? cap * 2 : 8192);
      if (!nt) break;
      text = nt;
    }
    size_t r = fread(text + len, 1, cap - len - 1, f);
    len += r;
    if (r == 0) break;
  }
  fclose(f);
  cJSON *j = text ? cJSON_ParseWithLength(text, len) : NULL;
  if (text) memset(text, 0, len);
  free(text);
  if (!cJSON_IsObject(j)) {
    cJSON_Delete(j);
    hl_fail(HL_ERR_JSON, "%s: not a JSON object (remove it to sign in again)", o->token_path);
    return NULL;
  }
  return j;
}

hl_status ex_mcp_oauth_load(hl_mcp *mcp, const char *server_url, char **stored, void *user) {
  (void)mcp;
  ex_mcp_oauth *o = user;
  pthread_mutex_lock(&o->file);
  cJSON *j = read_file(o);
  pthread_mutex_unlock(&o->file);
  if (!j) return hl_last_status();
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, server_url);
  if (cJSON_IsString(v)) *stored = strdup(v->valuestring);
  cJSON_Delete(j);
  return HL_OK;
}

/* mkdir -p of the file's directory, new directories private. */
static void make_dirs(const char *file) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", file);
  for (char *s = dir + 1; (s = strchr(s, '/')); s++) {
    *s = '\0';
    mkdir(dir, 0700);
    *s = '/';
  }
}

void ex_mcp_oauth_save(hl_mcp *mcp, const char *server_url, const char *stored, void *user) {
  ex_mcp_oauth *o = user;
  pthread_mutex_lock(&o->file);
  cJSON *j = read_file(o);
  char *text = NULL;
  if (j) {
    cJSON_DeleteItemFromObjectCaseSensitive(j, server_url);
    cJSON_AddStringToObject(j, server_url, stored);
    text = cJSON_Print(j);
    cJSON_Delete(j);
  }
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", o->token_path);
  make_dirs(o->token_path);
  int fd = text ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600) : -1;
  bool ok = fd >= 0 && fchmod(fd, 0600) == 0;
  size_t len = text ? strlen(text) : 0;
  ok = ok && write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
  if (fd >= 0) ok = close(fd) == 0 && ok;
  ok = ok && rename(tmp, o->token_path) == 0;
  if (!ok) {
    if (fd >= 0) unlink(tmp);
    /* Nothing to return: the tokens work for this run, the next asks again. */
    fprintf(o->ui, "MCP server \"%s\": could not keep the sign-in in %s: %s\n", hl_mcp_name(mcp), o->token_path,
            text ? strerror(errno) : hl_last_error());
  }
  if (text) memset(text, 0, len);
  free(text);
  pthread_mutex_unlock(&o->file);
}
