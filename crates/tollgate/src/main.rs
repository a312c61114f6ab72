//! The `tollgate` command: `init` and `serve`.

mod fraud;
mod numbers;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use tollgate_server::config::RawConfig;
use tollgate_server::startup::Credentials;
use tollgate_server::{Config, StartError, SystemClock};

#[derive(Parser)]
#[command(
    name = "tollgate",
    version,
    about = "Communications fraud and security gateway with a Twilio-compatible API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the data directory, database and main account; print its credentials once.
    Init {
        #[command(flatten)]
        common: Common,
        /// Print exactly one JSON line: {"account_sid":…,"auth_token":…}
        #[arg(long)]
        json: bool,
    },
    /// Sign or verify X-Twilio-Signature offline (exit 0 valid, 1 invalid, 2 usage error).
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Number intelligence offline.
    #[command(subcommand)]
    Numbers(NumbersCommand),
    /// Lock an account down (suspend, end calls, rotate the auth token,
    /// revoke API keys, block inbound, pause queued sends), or undo it.
    /// Prints what was done as JSON, with the new auth tokens (shown once).
    Lockdown {
        #[command(flatten)]
        common: Common,
        /// The account (AC…)
        #[arg(long, value_name = "SID")]
        account: String,
        /// Its subaccounts too
        #[arg(long)]
        include_subaccounts: bool,
        /// Reactivate and unblock (old tokens and keys stay revoked)
        #[arg(long)]
        undo: bool,
    },
    /// Proxy mode: an account's upstream Twilio account. Secrets come from
    /// the environment (TOLLGATE_UPSTREAM_API_KEY_SECRET,
    /// TOLLGATE_UPSTREAM_AUTH_TOKEN), never the command line.
    Upstream {
        #[command(flatten)]
        common: Common,
        /// The Tollgate account (AC…)
        #[arg(long, value_name = "SID")]
        account: String,
        /// Set it: the upstream account (AC…)
        #[arg(long, value_name = "SID", requires = "api_key_sid")]
        set: Option<String>,
        /// The upstream API key (SK…), with --set
        #[arg(long, value_name = "SID")]
        api_key_sid: Option<String>,
        /// Remove it
        #[arg(long, conflicts_with = "set")]
        delete: bool,
        /// Import the upstream account's phone numbers, keeping the
        /// application's URLs in Tollgate
        #[arg(long, conflicts_with_all = ["set", "delete"])]
        sync: bool,
        /// With --sync: point the numbers' SMS and voice webhooks on Twilio
        /// at Tollgate (your consent to change them)
        #[arg(long, requires = "sync")]
        point_webhooks: bool,
    },
    /// The tamper-evident audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Fraud Guard offline.
    #[command(subcommand)]
    Fraud(FraudCommand),
    /// Run the gateway (initialising an empty data directory first).
    Serve {
        #[command(flatten)]
        common: Common,
        /// Address to listen on [default: 127.0.0.1:8080; env TOLLGATE_LISTEN]
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
}

#[derive(Subcommand)]
enum FraudCommand {
    /// Run the detector on NDJSON events from stdin (request, delivery,
    /// verified, in time order); one decision line per request on stdout.
    Replay {
        /// off, basic, standard or max
        #[arg(long, default_value = "standard", value_parser = ["off", "basic", "standard", "max"])]
        mode: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the hash chain: exit 0 if intact, 1 naming the first broken
    /// event (edited, deleted, inserted, reordered, truncated), 2 on error.
    Verify {
        #[command(flatten)]
        common: Common,
        /// A checkpoint from `tollgate audit checkpoint` (SEQ:HASH) that the
        /// chain must still contain: detects truncation and rewrites.
        #[arg(long, value_name = "SEQ:HASH")]
        expect_head: Option<tollgate_audit::Checkpoint>,
    },
    /// Verify the chain, then print its head (SEQ:HASH) to keep elsewhere.
    Checkpoint {
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Subcommand)]
enum NumbersCommand {
    /// Read one number per line on stdin; write one JSON object per line:
    /// {"input","valid","e164","country","calling_code","type","risk","error"}.
    Classify {
        /// ISO country for national numbers and 00/011 prefixes (e.g. GB)
        #[arg(long, value_name = "XX")]
        default_region: Option<String>,
    },
}

#[derive(Subcommand)]
enum WebhookCommand {
    /// Print the signature of a request.
    Sign {
        #[command(flatten)]
        request: WebhookRequest,
    },
    /// Check a signature as the official validators do (port toggled, values de-duplicated).
    Verify {
        #[command(flatten)]
        request: WebhookRequest,
        /// The X-Twilio-Signature value
        #[arg(long)]
        signature: String,
        /// A non-form (JSON) body, bound by the URL's bodySHA256 parameter
        #[arg(long, value_name = "FILE")]
        body_file: Option<std::path::PathBuf>,
    },
}

#[derive(Args)]
struct WebhookRequest {
    /// The auth token or shared-key secret [env TOLLGATE_AUTH_TOKEN]
    #[arg(long, env = "TOLLGATE_AUTH_TOKEN", hide_env_values = true)]
    auth_token: String,
    /// The full URL the request was made to
    #[arg(long)]
    url: String,
    /// A form parameter; repeat for more (repeated names allowed)
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    params: Vec<(String, String)>,
    /// sha1 (auth tokens, the default) or sha256 (shared keys)
    #[arg(long, default_value = "sha1", value_parser = ["sha1", "sha256"])]
    algorithm: String,
}

fn parse_param(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("'{text}' is not NAME=VALUE"))
}

/// Runs `tollgate webhook …`; returns the exit code.
fn webhook(command: WebhookCommand) -> u8 {
    use tollgate_signature::{Algorithm, Key, Payload, Verifier};
    let algorithm = |name: &str| Algorithm::parse(name).unwrap_or(Algorithm::HmacSha1);
    match command {
        WebhookCommand::Sign { request } => {
            let key = Key::new(request.auth_token.as_bytes(), algorithm(&request.algorithm));
            println!("{}", key.sign(&request.url, &request.params));
            0
        }
        WebhookCommand::Verify {
            request,
            signature,
            body_file,
        } => {
            let verifier = Verifier::new(vec![Key::new(
                request.auth_token.as_bytes(),
                algorithm(&request.algorithm),
            )]);
            let body = match body_file.map(std::fs::read).transpose() {
                Ok(body) => body,
                Err(e) => {
                    eprintln!("tollgate: cannot read the body file: {e}");
                    return 2;
                }
            };
            let payload = match &body {
                Some(body) => Payload::Body(body),
                None => Payload::Form(&request.params),
            };
            match verifier.verify(
                &request.url,
                payload,
                &signature,
                algorithm(&request.algorithm),
            ) {
                Ok(m) => {
                    println!("valid ({:?} URL)", m.url_variant);
                    0
                }
                Err(why) => {
                    println!("invalid: {why}");
                    1
                }
            }
        }
    }
}

#[derive(Args)]
struct Common {
    /// Data directory [default: ./tollgate-data; env TOLLGATE_DATA_DIR]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<String>,
    /// postgres://… for PostgreSQL; default is SQLite in the data dir [env TOLLGATE_DATABASE_URL]
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// A TOML file with data_dir, listen, database_url, public_url, webhook_* (see docs/webhooks.md)
    #[arg(long, value_name = "FILE")]
    config: Option<String>,
}

/// Command line over environment over config file, then validation.
fn configure(common: Common, listen: Option<String>) -> Result<Config, StartError> {
    let cli = RawConfig {
        data_dir: common.data_dir,
        listen,
        database_url: common.database_url,
        ..RawConfig::default()
    };
    let mut errors = Vec::new();
    let file = match common.config {
        None => RawConfig::default(),
        Some(path) => match std::fs::read_to_string(&path) {
            Ok(text) => RawConfig::from_toml(&text).unwrap_or_else(|e| {
                errors.push(format!("{e} ({path})"));
                RawConfig::default()
            }),
            Err(e) => {
                errors.push(format!("config file: cannot read {path}: {e}"));
                RawConfig::default()
            }
        },
    };
    let raw = cli
        .or(RawConfig::from_env(|k| std::env::var(k).ok()))
        .or(file);
    match Config::validate(raw) {
        Ok(config) if errors.is_empty() => Ok(config),
        Ok(_) => Err(StartError::Config(errors)),
        Err(more) => {
            errors.extend(more);
            Err(StartError::Config(errors))
        }
    }
}

fn print_credentials(data_dir: &std::path::Path, c: &Credentials) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "Tollgate initialised in {}\n  Account SID: {}\n  Auth token:  {}\nKeep the auth token safe: it is shown only this once.",
        data_dir.display(),
        c.account_sid,
        c.auth_token.as_str()
    );
    let _ = out.flush();
}

/// Runs `tollgate audit …` on a runtime of its own; returns the exit code.
fn audit(command: AuditCommand) -> u8 {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        eprintln!("tollgate: cannot start the runtime");
        return 2;
    };
    let (common, expect, checkpoint) = match command {
        AuditCommand::Verify {
            common,
            expect_head,
        } => (common, expect_head, false),
        AuditCommand::Checkpoint { common } => (common, None, true),
    };
    let config = match configure(common, None) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("tollgate: {e}");
            return 2;
        }
    };
    match runtime.block_on(tollgate_server::startup::verify_audit(&config, expect)) {
        Err(e) => {
            eprintln!("tollgate: {e}");
            2
        }
        Ok(Err(broken)) => {
            println!("audit chain BROKEN: {broken}");
            1
        }
        Ok(Ok(report)) if checkpoint => {
            println!("{}", tollgate_audit::Checkpoint(report.head));
            0
        }
        Ok(Ok(report)) => {
            println!(
                "audit chain intact: {} events (seq {} to {}), head {}",
                report.checked,
                report.start.seq + 1,
                report.head.seq,
                tollgate_audit::Checkpoint(report.head)
            );
            0
        }
    }
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

async fn run(command: Command) -> Result<(), StartError> {
    match command {
        Command::Init { common, json } => {
            let config = configure(common, None)?;
            let credentials = tollgate_server::initialise(&config, Arc::new(SystemClock)).await?;
            if json {
                let line = serde_json::json!({
                    "account_sid": credentials.account_sid,
                    "auth_token": credentials.auth_token.as_str(),
                });
                println!("{line}");
            } else {
                print_credentials(&config.data_dir, &credentials);
            }
            Ok(())
        }
        Command::Webhook(_) | Command::Numbers(_) | Command::Audit(_) | Command::Fraud(_) => Ok(()),
        Command::Lockdown {
            common,
            account,
            include_subaccounts,
            undo,
        } => {
            let config = configure(common, None)?;
            let report = tollgate_server::startup::run_lockdown(
                &config,
                &account,
                include_subaccounts,
                undo,
                Arc::new(SystemClock),
            )
            .await?;
            println!("{report}");
            Ok(())
        }
        Command::Upstream {
            common,
            account,
            set,
            api_key_sid,
            delete,
            sync,
            point_webhooks,
        } => {
            let config = configure(common, None)?;
            let secret = |name: &str| {
                std::env::var(name).map_err(|_| {
                    StartError::Config(vec![format!(
                        "{name} must hold the secret (never an argument)"
                    )])
                })
            };
            let command = match (set, delete) {
                _ if sync => tollgate_server::startup::UpstreamCommand::Sync { point_webhooks },
                (Some(upstream_account), _) => tollgate_server::startup::UpstreamCommand::Set {
                    upstream_account,
                    api_key_sid: api_key_sid.unwrap_or_default(),
                    api_key_secret: secret("TOLLGATE_UPSTREAM_API_KEY_SECRET")?,
                    auth_token: secret("TOLLGATE_UPSTREAM_AUTH_TOKEN")?,
                },
                (None, true) => tollgate_server::startup::UpstreamCommand::Delete,
                (None, false) => tollgate_server::startup::UpstreamCommand::Show,
            };
            let shown = tollgate_server::startup::run_upstream(
                &config,
                &account,
                command,
                Arc::new(SystemClock),
            )
            .await?;
            println!("{shown}");
            Ok(())
        }
        Command::Serve { common, listen } => {
            let config = configure(common, listen)?;
            let prepared = tollgate_server::prepare(&config, Arc::new(SystemClock)).await?;
            if let Some(credentials) = &prepared.new_credentials {
                print_credentials(&config.data_dir, credentials);
            }
            tollgate_server::serve(&config, prepared.app, shutdown_signal()).await
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Offline tools use the conventional 2; the server's config errors are 64.
            let offline = matches!(
                std::env::args().nth(1).as_deref(),
                Some("webhook" | "numbers" | "audit" | "fraud")
            );
            let usage = if offline { 2 } else { 64 };
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(usage),
            };
        }
    };
    let command = match cli.command {
        Command::Audit(command) => return ExitCode::from(audit(command)),
        Command::Fraud(FraudCommand::Replay { mode }) => {
            let mode =
                tollgate_detect::Mode::parse(&mode).unwrap_or(tollgate_detect::Mode::Standard);
            return ExitCode::from(fraud::replay(mode));
        }
        Command::Webhook(command) => return ExitCode::from(webhook(command)),
        Command::Numbers(NumbersCommand::Classify { default_region }) => {
            return ExitCode::from(numbers::classify(default_region.as_deref()));
        }
        other => other,
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TOLLGATE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tollgate: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tollgate: {e}");
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1))
        }
    }
}
