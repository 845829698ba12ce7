//! The `officehours` command line: `serve`, `migrate`, `user create`, and
//! `token create`, `token list`, `token revoke`.

use std::io::{IsTerminal, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat, Overrides};
use crate::domain::time_zone;
use crate::service::App;
use crate::service::AppError;
use crate::service::accounts::{Roles, SignUp};

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
    crate::allocator::tune();
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
            crate::root::migrate(&config).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::User(UserCommand::Create { username, email, advisor, pro, admin }) => {
            let node = crate::root::assemble(config).await?;
            let app = &node.app;
            let (password, generated) = read_or_generate_password()?;
            let input = SignUp { username, email, password: password.clone(), ..Default::default() };
            let roles = Roles { advisor, pro, admin, verified: true };
            let user = app.sign_up(&input, roles).await.map_err(describe)?;
            println!("created @{} <{}>", user.username, user.email);
            if generated {
                println!("password: {password}");
            }
            app.close().await;
            Ok(())
        }
        Command::Token(command) => {
            let node = crate::root::assemble(config).await?;
            let done = run_token_command(&node.app, command).await;
            node.app.close().await;
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
    match app.user_by_username(&username.trim().to_ascii_lowercase()).await {
        Ok(user) => Ok(user),
        Err(AppError::NotFound(_)) => anyhow::bail!("no account named `{username}`"),
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

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn,lettre=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let demo = config.demo;
    let bind = config.bind;
    let node = crate::root::assemble(config).await?;
    let app = &node.app;
    tracing::info!(database = %crate::storage::redact_url(&app.config.database_url), "database ready");
    tracing::info!("{}", app.describe_mail());
    if demo {
        crate::demo::fill_if_empty(app).await?;
    }
    let listener =
        tokio::net::TcpListener::bind(bind).await.map_err(|e| anyhow::anyhow!("cannot listen on {bind}: {e}"))?;
    tracing::info!("Officehours listening on http://{} — open {}", listener.local_addr()?, app.config.public_url);
    let jobs = node.spawn_jobs();
    crate::serve(listener, node.router(), shutdown_signal()).await?;
    drop(jobs);
    node.app.close().await;
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
