//! The `officehours` command line: `serve`, `migrate`, `user create`, and
//! `token create`, `token list`, `token revoke`.

use std::io::{IsTerminal, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::app::App;
use crate::clock::Clock;
use crate::config::{Config, LogFormat, Overrides};
use crate::domain::time_zone;
use crate::mail::Mailer;
use crate::service::AppError;
use crate::service::accounts::{Roles, SignUp};
use crate::storage::Store;

#[derive(Parser, Debug)]
#[command(name = "officehours", version, about = "Federated office hours: short voice sessions with advisors")]
struct Cli {
    /// TOML configuration file (see docs/officehours.example.toml).
    #[arg(long, global = true, env = "OFFICEHOURS_CONFIG")]
    config: Option<PathBuf>,
    /// sqlite://PATH?mode=rwc (default, under the data dir) or postgres://USER@HOST/DB.
    #[arg(long, global = true, env = "OFFICEHOURS_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Folder for the SQLite database and the mail outbox [default: ./data].
    #[arg(long, global = true, env = "OFFICEHOURS_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// What to do; `serve` when left out.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server (applies migrations first).
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage personal API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Args, Debug, Default)]
struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "OFFICEHOURS_BIND")]
    bind: Option<SocketAddr>,
    /// Public host name of this instance [default: localhost].
    #[arg(long, env = "OFFICEHOURS_DOMAIN")]
    domain: Option<String>,
    /// Base URL for links, if not https://DOMAIN/ (or http://DOMAIN:PORT/ for local names).
    #[arg(long, env = "OFFICEHOURS_PUBLIC_URL")]
    public_url: Option<String>,
    /// Fill an empty database with sample advisors and learners.
    #[arg(long, env = "OFFICEHOURS_DEMO", action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new())]
    demo: bool,
    /// Log as text (default) or JSON lines.
    #[arg(long, env = "OFFICEHOURS_LOG_FORMAT")]
    log_format: Option<LogFormat>,
    /// For the federation test suite only: allow http, explicit ports and
    /// loopback addresses for peers. Refused unless the domain ends in
    /// `.test` or `.localhost`.
    #[arg(long, env = "OFFICEHOURS_FEDERATION_TEST_MODE", action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new())]
    federation_test_mode: bool,
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Create an account (confirmed e-mail). The password is read from standard
    /// input when it is not a terminal; otherwise one is generated and printed.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// List the account in the advisor directory.
        #[arg(long)]
        advisor: bool,
        /// Grant the Pro role (advisors may extend sessions).
        #[arg(long)]
        pro: bool,
        /// Grant the admin role.
        #[arg(long)]
        admin: bool,
    },
}

#[derive(Subcommand, Debug)]
enum TokenCommand {
    /// Print a new personal API token for an account (only the token goes to
    /// standard output).
    Create {
        /// The account's username.
        #[arg(required_unless_present = "username", conflicts_with = "username")]
        user: Option<String>,
        /// The same as USER (the form older scripts use).
        #[arg(long, hide = true)]
        username: Option<String>,
        /// What the token is for, 1 to 60 characters.
        #[arg(long, alias = "label", default_value = "CLI")]
        name: String,
        /// Days until the token stops working (1 to 365); never when left out.
        #[arg(long)]
        expires_in_days: Option<i64>,
    },
    /// List an account's tokens: id, name, created, last used, expires
    /// (never the secrets).
    List {
        /// The account's username.
        user: String,
    },
    /// Revoke one of an account's tokens by its id (see `token list`).
    Revoke {
        /// The account's username.
        user: String,
        /// The token's id.
        id: i64,
    },
}

pub fn main() -> ExitCode {
    tune_allocator();
    crate::install_crypto();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or_else(|| Command::Serve(ServeArgs::default()));
    let mut overrides =
        Overrides { config: cli.config, database_url: cli.database_url, data_dir: cli.data_dir, ..Default::default() };
    if let Command::Serve(args) = &command {
        overrides.bind = args.bind;
        overrides.domain = args.domain.clone();
        overrides.public_url = args.public_url.clone();
        overrides.demo = args.demo;
        overrides.log_format = args.log_format;
        overrides.federation_test_mode = args.federation_test_mode;
    }
    let config = Config::resolve(overrides)?;
    init_logging(config.log_format);
    match command {
        Command::Serve(_) => serve(config).await,
        Command::Migrate => {
            let store = open_store(&config).await?;
            store.close().await;
            println!("migrations applied");
            Ok(())
        }
        Command::User(UserCommand::Create { username, email, advisor, pro, admin }) => {
            let app = build_app(config).await?;
            let (password, generated) = read_or_generate_password()?;
            let input = SignUp { username, email, password: password.clone(), ..Default::default() };
            let roles = Roles { advisor, pro, admin, verified: true };
            let user = app.sign_up(&input, roles).await.map_err(describe)?;
            println!("created @{} <{}>", user.username, user.email);
            if generated {
                println!("password: {password}");
            }
            app.store.close().await;
            Ok(())
        }
        Command::Token(command) => {
            let app = build_app(config).await?;
            let done = run_token_command(&app, command).await;
            app.store.close().await;
            done
        }
    }
}

async fn run_token_command(app: &App, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { user, username, name, expires_in_days } => {
            let user = account_named(app, &user.or(username).unwrap_or_default()).await?;
            let made = app.issue_api_token(&user, &name, expires_in_days).await.map_err(describe)?;
            println!("{}", made.secret);
        }
        TokenCommand::List { user } => {
            let user = account_named(app, &user).await?;
            let tokens = app.api_tokens(&user).await.map_err(describe)?;
            if tokens.is_empty() {
                println!("@{} has no API tokens", user.username);
            }
            let now = app.clock.now_ms();
            let when =
                |ms: Option<i64>| ms.map_or_else(|| "never".to_string(), |ms| time_zone::format_instant(ms, "UTC"));
            for t in tokens {
                let expired = if t.is_expired(now) { " (expired)" } else { "" };
                println!(
                    "{}\t{}\tcreated {}\tlast used {}\texpires {}{expired}",
                    t.id,
                    t.name,
                    when(Some(t.created_at)),
                    when(t.last_used_at),
                    when(t.expires_at)
                );
            }
        }
        TokenCommand::Revoke { user, id } => {
            let user = account_named(app, &user).await?;
            match app.revoke_api_token(&user, id).await {
                Ok(name) => println!("revoked token {id} “{name}” of @{}", user.username),
                Err(AppError::NotFound(_)) => anyhow::bail!("@{} has no API token with id {id}", user.username),
                Err(other) => return Err(describe(other)),
            }
        }
    }
    Ok(())
}

async fn account_named(app: &App, username: &str) -> anyhow::Result<crate::storage::User> {
    match app.store.user_by_username(&username.trim().to_ascii_lowercase()).await {
        Ok(user) => Ok(user),
        Err(crate::storage::StorageError::NotFound) => anyhow::bail!("no account named `{username}`"),
        Err(other) => Err(other.into()),
    }
}

/// Turns a service error into a message naming each bad field.
fn describe(err: AppError) -> anyhow::Error {
    match err {
        AppError::Invalid(errors) => anyhow::anyhow!("{errors}"),
        AppError::Internal(cause) => cause,
        other => anyhow::anyhow!(other.message()),
    }
}

fn read_or_generate_password() -> anyhow::Result<(String, bool)> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok((crate::service::secrets::new_secret()[..24].to_string(), true));
    }
    let mut text = String::new();
    stdin.lock().read_to_string(&mut text)?;
    let password = text.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        anyhow::bail!("no password on standard input (pipe one in, or run from a terminal to have one generated)");
    }
    Ok((password, false))
}

/// Every password hash briefly takes 19 MiB (argon2id). glibc would serve
/// those from per-thread arenas after the first one and keep the memory, so
/// a few log-ins would leave hundreds of megabytes resident. A fixed mmap
/// threshold hands such blocks back to the system as soon as they are freed,
/// and two arenas bound fragmentation across the runtime's threads.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn,lettre=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

async fn open_store(config: &Config) -> anyhow::Result<Store> {
    if config.database_url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| anyhow::anyhow!("cannot create data dir {}: {e}", config.data_dir.display()))?;
    }
    let store = Store::connect(&config.database_url, config.max_db_connections).await.map_err(|e| {
        anyhow::anyhow!("cannot open the database {}: {e}", crate::storage::redact_url(&config.database_url))
    })?;
    store.migrate().await?;
    Ok(store)
}

/// Storage, mail and state, ready for the services, on the system clock
/// (or, in federation test mode with `OFFICEHOURS_TEST_CLOCK=manual`, on a
/// manual one the test suite moves).
pub async fn build_app(config: Config) -> anyhow::Result<App> {
    let clock = match config.test_clock {
        true => {
            tracing::warn!("test clock: time stands still until the test suite moves it (POST /_test/clock)");
            Clock::manual_from_now()
        }
        false => Clock::system(),
    };
    build_app_with_clock(config, clock).await
}

/// [`build_app`] on a given clock (tests hold a manual one).
pub async fn build_app_with_clock(mut config: Config, clock: Clock) -> anyhow::Result<App> {
    if config.secret_key.is_none() {
        config.secret_key = Some(load_or_create_secret_key(&config.secret_key_file())?);
    }
    let store = open_store(&config).await?;
    let mailer = Mailer::new(config.smtp_url.as_deref(), &config.mail_from, config.outbox_dir())?;
    let app = App::new(config, store, mailer, clock);
    let client = crate::federation::context::http_client(&app)?;
    let federation = crate::federation::context::config(&app, client.clone()).await?;
    let _ = app.federation.set(federation);
    let _ = app.sender.set(crate::federation::delivery::Sender::new(client));
    Ok(app)
}

/// Reads the instance secret key from `path`, creating it (readable by the
/// owner only) on first use.
fn load_or_create_secret_key(path: &std::path::Path) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(key) if key.trim().len() >= 32 => return Ok(key.trim().to_string()),
        Ok(_) => anyhow::bail!("the secret key in {} is shorter than 32 characters", path.display()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => anyhow::bail!("cannot read the secret key {}: {err}", path.display()),
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    }
    let key = crate::service::secrets::new_secret();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            std::io::Write::write_all(&mut file, key.as_bytes())
                .map_err(|e| anyhow::anyhow!("cannot write the secret key {}: {e}", path.display()))?;
            tracing::info!(path = %path.display(), "created the instance secret key");
            Ok(key)
        }
        // Another process created it first: use theirs.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => load_or_create_secret_key(path),
        Err(err) => anyhow::bail!("cannot create the secret key {}: {err}", path.display()),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let demo = config.demo;
    let bind = config.bind;
    let app = build_app(config).await?;
    tracing::info!(database = %crate::storage::redact_url(&app.config.database_url), "database ready");
    tracing::info!("{}", app.mailer.describe());
    if demo {
        crate::demo::fill_if_empty(&app).await?;
    }
    let listener =
        tokio::net::TcpListener::bind(bind).await.map_err(|e| anyhow::anyhow!("cannot listen on {bind}: {e}"))?;
    tracing::info!("Officehours listening on http://{} — open {}", listener.local_addr()?, app.config.public_url);
    crate::service::busy::spawn_busy_refresher(app.clone());
    app.spawn_jobs();
    let (store, clock) = (app.store.clone(), app.clock.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match store.purge_expired().await {
                Ok(n) if n > 0 => tracing::info!(removed = n, "expired sessions and links purged"),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "purging expired sessions failed"),
            }
            let week_ago = clock.now_ms() - 7 * 24 * 3_600_000;
            if let Err(err) = store.purge_sent_mail(week_ago).await {
                tracing::warn!(error = %err, "purging sent mail failed");
            }
            // Senders retry for days, not months: a month of activity ids is enough.
            let month_ago = clock.now_ms() - 30 * 24 * 3_600_000;
            if let Err(err) = store.purge_seen_activities(month_ago).await {
                tracing::warn!(error = %err, "purging received activity ids failed");
            }
            // Sent and given-up deliveries are kept a week for the admin's
            // federation page, then dropped (the queue must not grow forever).
            if let Err(err) = store.purge_finished_deliveries(week_ago).await {
                tracing::warn!(error = %err, "purging finished deliveries failed");
            }
        }
    });
    let store = app.store.clone();
    crate::serve(listener, app, shutdown_signal()).await?;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut sig) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            sig.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
