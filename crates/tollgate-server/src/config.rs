//! Configuration: command line over environment over an optional TOML file,
//! parsed, then validated with every error collected, before anything binds.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tollgate_secrets::MasterKey;
use tollgate_store::DatabaseTarget;

pub const DEFAULT_DATA_DIR: &str = "./tollgate-data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DATABASE_FILE: &str = "tollgate.db";
pub const MASTER_KEY_FILE: &str = "master.key";

/// Settings as given, before validation. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub data_dir: Option<String>,
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub public_url: Option<String>,
    /// Only from `TOLLGATE_MASTER_KEY`, never from a file or the command line.
    #[serde(skip)]
    pub master_key: Option<String>,
}

impl RawConfig {
    /// `self`, with `other`'s values where `self` has none.
    pub fn or(self, other: RawConfig) -> RawConfig {
        RawConfig {
            data_dir: self.data_dir.or(other.data_dir),
            listen: self.listen.or(other.listen),
            database_url: self.database_url.or(other.database_url),
            public_url: self.public_url.or(other.public_url),
            master_key: self.master_key.or(other.master_key),
        }
    }

    /// Reads a TOML config file.
    pub fn from_toml(text: &str) -> Result<RawConfig, String> {
        toml::from_str(text).map_err(|e| format!("config file: {}", e.message()))
    }

    /// Reads the `TOLLGATE_*` variables through `lookup` (the real environment, or a map in tests).
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> RawConfig {
        RawConfig {
            data_dir: lookup("TOLLGATE_DATA_DIR"),
            listen: lookup("TOLLGATE_LISTEN"),
            database_url: lookup("TOLLGATE_DATABASE_URL"),
            public_url: lookup("TOLLGATE_PUBLIC_URL"),
            master_key: lookup("TOLLGATE_MASTER_KEY"),
        }
    }
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub database: DatabaseTarget,
    pub public_url: String,
    pub master_key: Option<MasterKey>,
}

impl Config {
    /// Validates every field and returns all problems at once.
    pub fn validate(raw: RawConfig) -> Result<Config, Vec<String>> {
        let mut errors = Vec::new();
        let data_dir = PathBuf::from(raw.data_dir.as_deref().unwrap_or(DEFAULT_DATA_DIR));
        if data_dir.as_os_str().is_empty() {
            errors.push("data dir: must not be empty".to_owned());
        } else if data_dir.exists() && !data_dir.is_dir() {
            errors.push(format!(
                "data dir: {} exists and is not a directory",
                data_dir.display()
            ));
        }
        let listen_text = raw.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let listen = listen_text.parse::<SocketAddr>().map_err(|_| {
            errors.push(format!(
                "listen: '{listen_text}' is not an address with a port, like 127.0.0.1:8080"
            ))
        });
        let database = match raw.database_url.as_deref() {
            None | Some("") => Ok(DatabaseTarget::Sqlite(data_dir.join(DATABASE_FILE))),
            Some(url) => parse_database_url(url).map_err(|e| errors.push(e)),
        };
        let master_key = match raw.master_key.as_deref() {
            None => Ok(None),
            Some(text) => MasterKey::from_hex(text).map(Some).map_err(|_| {
                errors.push("TOLLGATE_MASTER_KEY: must be 64 hex characters (32 bytes)".to_owned())
            }),
        };
        let public_url = match raw.public_url {
            None => Ok(None),
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                Ok(Some(url.trim_end_matches('/').to_owned()))
            }
            Some(url) => {
                errors.push(format!(
                    "public url: '{url}' must start with http:// or https://"
                ));
                Err(())
            }
        };
        match (listen, database, master_key, public_url) {
            (Ok(listen), Ok(database), Ok(master_key), Ok(public_url)) if errors.is_empty() => {
                Ok(Config {
                    public_url: public_url.unwrap_or_else(|| format!("http://{listen}")),
                    data_dir,
                    listen,
                    database,
                    master_key,
                })
            }
            _ => Err(errors),
        }
    }

    pub fn master_key_file(&self) -> PathBuf {
        self.data_dir.join(MASTER_KEY_FILE)
    }
}

/// `postgres://…` / `postgresql://…`, or `sqlite://PATH` / `sqlite:PATH`.
fn parse_database_url(url: &str) -> Result<DatabaseTarget, String> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(DatabaseTarget::Postgres(url.to_owned()));
    }
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let path = path.split('?').next().unwrap_or_default();
        if !path.is_empty() {
            return Ok(DatabaseTarget::Sqlite(Path::new(path).to_path_buf()));
        }
    }
    Err(format!(
        "database url: '{}' is neither postgres://… nor sqlite://PATH",
        redact_url(url)
    ))
}

/// A URL with any password replaced, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = url.get(scheme + 3..at).unwrap_or_default();
            let user = userinfo.split(':').next().unwrap_or_default();
            format!(
                "{}{}:***{}",
                url.get(..scheme + 3).unwrap_or_default(),
                user,
                url.get(at..).unwrap_or_default()
            )
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> RawConfig {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        RawConfig::from_env(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_local_sqlite() {
        let c = Config::validate(RawConfig::default()).unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(
            c.database,
            DatabaseTarget::Sqlite(PathBuf::from(DEFAULT_DATA_DIR).join(DATABASE_FILE))
        );
        assert_eq!(c.public_url, "http://127.0.0.1:8080");
        assert!(c.master_key.is_none());
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let raw = env(&[
            ("TOLLGATE_LISTEN", "nowhere"),
            ("TOLLGATE_DATABASE_URL", "mysql://u:pw@h/db"),
            ("TOLLGATE_MASTER_KEY", "short"),
            ("TOLLGATE_PUBLIC_URL", "ftp://x"),
        ]);
        let errors = Config::validate(raw).unwrap_err();
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors.iter().any(|e| e.starts_with("listen:")));
        assert!(errors.iter().any(|e| e.contains("mysql://u:***@h/db")));
        assert!(errors.iter().all(|e| !e.contains("pw")));
        assert!(errors.iter().any(|e| e.starts_with("TOLLGATE_MASTER_KEY")));
        assert!(errors.iter().any(|e| e.starts_with("public url")));
    }

    #[test]
    fn command_line_wins_over_env_over_file() {
        let cli = RawConfig {
            listen: Some("127.0.0.1:1".into()),
            ..RawConfig::default()
        };
        let from_env = env(&[
            ("TOLLGATE_LISTEN", "127.0.0.1:2"),
            ("TOLLGATE_DATABASE_URL", "postgres://h/db"),
        ]);
        let file =
            RawConfig::from_toml("listen = \"127.0.0.1:3\"\ndata_dir = \"/tmp/x\"\n").unwrap();
        let c = Config::validate(cli.or(from_env).or(file)).unwrap();
        assert_eq!(c.listen.port(), 1);
        assert_eq!(
            c.database,
            DatabaseTarget::Postgres("postgres://h/db".into())
        );
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn unknown_file_keys_are_errors() {
        assert!(
            RawConfig::from_toml("lisen = \"x\"")
                .unwrap_err()
                .contains("lisen")
        );
    }

    #[test]
    fn sqlite_urls_name_a_path() {
        assert_eq!(
            parse_database_url("sqlite:///tmp/a.db"),
            Ok(DatabaseTarget::Sqlite("/tmp/a.db".into()))
        );
        assert_eq!(
            parse_database_url("sqlite:b.db"),
            Ok(DatabaseTarget::Sqlite("b.db".into()))
        );
        assert!(parse_database_url("sqlite://").is_err());
    }
}
