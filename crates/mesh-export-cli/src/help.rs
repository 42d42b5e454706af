//! The long `--help` epilogue: exit codes (from [`crate::exit`]), `--json` shapes, credentials.

use crate::exit;

/// The `--json` documents and the credentials, as `--help` prints them after the exit codes.
const JSON_AND_CREDENTIALS: &str = "\
With --json, stdout holds one JSON document:
  login             {\"method\", \"source\", \"client_id\"?, \"token_url\"?, \"issuer\"?,
                     \"expires_in_seconds\"?}
  list              [Export, ...]   (the API's Export objects)
  get, start, wait  Export
  delete            {\"deleted\": ID}
  url               {\"export_id\"?, \"tileset_url\"}   (signed: treat it as a secret)
  download, demo    {\"complete\", \"dir\", \"tileset\", \"manifest\", \"files\", \"bytes\",
                     \"downloaded_files\", \"downloaded_bytes\", \"skipped\", \"retries\", \"resigns\",
                     \"elapsed_seconds\", \"listed_files\", \"unnamed_files\",
                     \"mirrored_files\", \"failed\": [{\"path\", \"reason\"}],
                     \"refused\": [{\"uri\", \"in_file\", \"reason\"}], \"export_id\"?}
                    (also on exit 7, with \"complete\": false)
and on failure stderr holds {\"error\": {\"message\", \"exit_code\"}}.
`mesh-export schema [COMMAND]` prints the JSON Schema of these documents.

Credentials: --token or ITWIN_ACCESS_TOKEN; or --share-key or ITWIN_SHARE_KEY (an iTwin share
key, sent as Authorization: Basic); or --client-id and --client-secret, or ITWIN_CLIENT_ID and
ITWIN_CLIENT_SECRET (OAuth2 client credentials against --token-url); else the session of a
person signed in with `mesh-export login` (--client-id alone; `mesh-export logout` ends it).
Tokens, secrets and URL signatures are never logged.";

/// Exit codes, `--json` shapes and credentials, printed after `--help`'s options.
pub fn after_long_help() -> String {
    format!("{}\n\n{JSON_AND_CREDENTIALS}", exit::help_section())
}
