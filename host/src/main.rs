//! The `tally` command: `tally serve` runs the authority; `tally admin-token`
//! mints an admin token offline.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand, ValueEnum};
use tally::authority::{Actor, AuthorityConfig};
use tally::clock::SystemClock;
use tally::http::{AppState, Options, ServerLimits, TrustedProxies};
use tally::runtime::{DEFAULT_MODULE, Limits, Verifier};
use tally::storage::Durability;
use tally::webhooks::{WebhookKey, WorkerOptions};

mod config;

/// Tally: app tokens for platforms.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
// Parsed once, at start: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Run the authority's HTTP API.
    Serve {
        /// A TOML file of these options (one key per option); the command
        /// line and the TALLY_* environment win over it.
        #[arg(long, env = "TALLY_CONFIG")]
        config: Option<PathBuf>,
        /// Log lines as text (colours only on a terminal) or as JSON objects.
        #[arg(long, value_enum, default_value = "text", env = "TALLY_LOG_FORMAT")]
        log_format: LogFormat,
        /// Data directory (SQLite database).
        #[arg(long, default_value = "./tally-data", env = "TALLY_DATA")]
        data: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8787", env = "TALLY_LISTEN")]
        listen: SocketAddr,
        /// Serve HTTPS with this certificate chain (PEM); read again on SIGHUP.
        #[arg(long, env = "TALLY_TLS_CERT", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM); read again on SIGHUP.
        #[arg(long, env = "TALLY_TLS_KEY", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Base URL clients reach this server at (default: `http://<bound address>`).
        #[arg(long, env = "TALLY_PUBLIC_URL")]
        public_url: Option<String>,
        /// SQLite durability: normal survives process crashes, full also power loss.
        #[arg(long, value_enum, default_value = "normal", env = "TALLY_SQLITE_SYNC")]
        sqlite_sync: Durability,
        /// A PostgreSQL URL (`postgres://user:password@host/db`) instead of
        /// SQLite in --data: several nodes may share it.
        #[arg(long, env = "TALLY_DATABASE")]
        database: Option<String>,
        /// Run as a verify-only replica of the authority at this URL: keep
        /// its token records in memory from its record feed, answer
        /// /v1/verify and the gateway locally, refuse changes (503).
        #[arg(long, env = "TALLY_REPLICA_OF", conflicts_with = "database")]
        replica_of: Option<String>,
        /// The token the replica reads the feed with (management admin or replica grant).
        #[arg(long, env = "TALLY_REPLICA_TOKEN", requires = "replica_of")]
        replica_token: Option<String>,
        /// Seconds a setup code stays redeemable.
        #[arg(long, default_value_t = 600, env = "TALLY_SETUP_CODE_TTL")]
        setup_code_ttl: i64,
        /// Seconds a rotated token's old secret keeps working.
        #[arg(long, default_value_t = 0, env = "TALLY_ROTATION_GRACE")]
        rotation_grace: i64,
        /// Lifetime of an app frame's SESSION token, seconds (1 to 3600); the
        /// studio refreshes it before it runs out.
        #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(i64).range(1..=3600), env = "TALLY_SESSION_TTL")]
        session_ttl: i64,
        /// A verifier plugin (.wasm speaking verifier-core's ABI) instead of the embedded module.
        #[arg(long, env = "TALLY_PLUGIN")]
        plugin: Option<PathBuf>,
        /// Deadline of one plugin call, milliseconds.
        #[arg(long, default_value_t = 20, env = "TALLY_PLUGIN_DEADLINE_MS")]
        plugin_deadline_ms: u64,
        /// Upstream that the gateway (/v1/content/...) forwards allowed requests to.
        #[arg(long, env = "TALLY_UPSTREAM")]
        upstream: Option<String>,
        /// The platform's management GraphQL endpoint (a full URL) that
        /// `POST /v1/management` forwards allowed operations to.
        #[arg(long, env = "TALLY_MANAGEMENT_UPSTREAM")]
        management_upstream: Option<String>,
        /// Open GraphQL introspection (`__schema`, `__type`) at /v2/… to every
        /// caller; without it a grant of the action `introspect` is needed.
        #[arg(long, env = "TALLY_GRAPHQL_INTROSPECTION")]
        graphql_introspection: bool,
        /// Failed verifications from one address within the window before 429 (0: off).
        #[arg(long, default_value_t = 50, env = "TALLY_THROTTLE_FAILURES")]
        throttle_failures: u32,
        /// The throttle's window, seconds.
        #[arg(long, default_value_t = 60, env = "TALLY_THROTTLE_WINDOW")]
        throttle_window: i64,
        /// Call the plugin for every check, even one repeated within the same
        /// second (by default such a repeat is answered with the allowed
        /// decision the plugin gave it; needed only for a plugin that keeps
        /// state between calls, which ABI.md forbids).
        #[arg(long, env = "TALLY_NO_DECISION_MEMO")]
        no_decision_memo: bool,
        /// A proxy in front of tally (address or CIDR, repeatable): its
        /// `Forwarded` / `X-Forwarded-For` name the client, for the
        /// throttle and the forwarded headers. None by default.
        #[arg(long = "trusted-proxy", value_name = "CIDR", value_parser = parse_net, env = "TALLY_TRUSTED_PROXIES", value_delimiter = ',')]
        trusted_proxies: Vec<ipnet::IpNet>,
        /// Seconds a client has to send a request's headers (also the
        /// longest wait for the next request on a kept-alive connection).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..), env = "TALLY_HEADER_TIMEOUT")]
        header_timeout: u64,
        /// Seconds a request body may stall before 408.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..), env = "TALLY_BODY_TIMEOUT")]
        body_timeout: u64,
        /// Seconds a connection may pass with no byte moving before it is closed.
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..), env = "TALLY_IDLE_TIMEOUT")]
        idle_timeout: u64,
        /// Most connections open at once; past it new ones wait to be accepted.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..), env = "TALLY_MAX_CONNECTIONS")]
        max_connections: u64,
        /// The key apps' webhook signing secrets are derived from (32
        /// bytes, base64). With SQLite, made as <data>/webhook.key when not
        /// given; every node of a PostgreSQL deployment needs the same file,
        /// and without one webhooks are off there.
        #[arg(long, env = "TALLY_WEBHOOK_KEY_FILE")]
        webhook_key_file: Option<PathBuf>,
        /// Let webhooks reach private, loopback and link-local addresses
        /// (refused by default).
        #[arg(long, env = "TALLY_ALLOW_PRIVATE_WEBHOOKS")]
        allow_private_webhooks: bool,
        /// The first webhook retry's wait, milliseconds; each later one
        /// doubles (at most an hour), for 24 hours.
        #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(i64).range(1..), env = "TALLY_WEBHOOK_BACKOFF_MS")]
        webhook_backoff_ms: i64,
        /// An OpenID provider people sign in to the studio with (its issuer
        /// URL; discovered at start). Register `<public URL>/studio/oidc/callback`
        /// as the client's redirect URI there.
        #[arg(long, env = "TALLY_OIDC_ISSUER", requires = "oidc_client_id")]
        oidc_issuer: Option<String>,
        /// The studio's client id at the OpenID provider.
        #[arg(long, env = "TALLY_OIDC_CLIENT_ID", requires = "oidc_issuer")]
        oidc_client_id: Option<String>,
        /// The studio's client secret at the OpenID provider (prefer the
        /// environment variable: a command line is visible to other users).
        #[arg(
            long,
            env = "TALLY_OIDC_CLIENT_SECRET",
            requires = "oidc_issuer",
            hide_env_values = true
        )]
        oidc_client_secret: Option<String>,
        /// Refuse studio sign-in with an admin token (people sign in with
        /// OpenID Connect; tokens still call the API).
        #[arg(long, env = "TALLY_NO_ADMIN_TOKEN_SIGN_IN", requires = "oidc_issuer")]
        no_admin_token_sign_in: bool,
    },
    /// Write the embedded verifier module (the same bytes edges should run).
    ExportModule {
        /// Where to write it.
        path: PathBuf,
    },
    /// Mint a new admin token (offline; prints it once).
    AdminToken {
        /// Data directory (SQLite database).
        #[arg(long, default_value = "./tally-data", env = "TALLY_DATA")]
        data: PathBuf,
        /// A name for the token.
        #[arg(long, default_value = "admin")]
        name: String,
        /// A PostgreSQL URL instead of SQLite in --data.
        #[arg(long, env = "TALLY_DATABASE")]
        database: Option<String>,
    },
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// Human-readable lines; ANSI colours only when stderr is a terminal.
    Text,
    /// One JSON object per line (tracing-subscriber's json layer).
    Json,
}

/// Logs to stderr through a writer thread, so a request never waits on the
/// terminal or the pipe (the access log writes a line per request). Under
/// a flood the writer's queue may drop lines rather than slow requests.
/// Keep the guard: dropping it flushes.
fn init_logs(format: LogFormat) -> tracing_appender::non_blocking::WorkerGuard {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_env_filter(filter);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
    guard
}

fn main() -> anyhow::Result<()> {
    // `tally serve --config tally.toml`: the file's options become arguments
    // where neither the command line nor the environment gives them.
    let command = Cli::command();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let args = match command.find_subcommand("serve") {
        Some(serve) if args.get(1).is_some_and(|a| a == "serve") => config::merge(args, serve)?,
        _ => args,
    };
    let cli = match Cli::from_arg_matches(&command.get_matches_from(args)) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let _logs = match &cli.command {
        Command::Serve { log_format, .. } => init_logs(*log_format),
        _ => init_logs(LogFormat::Text),
    };
    match cli.command {
        Command::Serve {
            config: _,
            log_format: _,
            data,
            listen,
            tls_cert,
            tls_key,
            public_url,
            sqlite_sync,
            database,
            replica_of,
            replica_token,
            setup_code_ttl,
            rotation_grace,
            session_ttl,
            plugin,
            plugin_deadline_ms,
            upstream,
            management_upstream,
            graphql_introspection,
            throttle_failures,
            throttle_window,
            no_decision_memo,
            trusted_proxies,
            header_timeout,
            body_timeout,
            idle_timeout,
            max_connections,
            webhook_key_file,
            allow_private_webhooks,
            webhook_backoff_ms,
            oidc_issuer,
            oidc_client_id,
            oidc_client_secret,
            no_admin_token_sign_in,
        } => {
            // Without --public-url, the bound address fills it in (see serve).
            let mut config = AuthorityConfig::new(public_url.unwrap_or_default());
            config.setup_code_ttl = setup_code_ttl.max(1);
            config.rotation_grace = rotation_grace.max(0);
            config.session_ttl = session_ttl;
            let limits = Limits {
                deadline: Duration::from_millis(plugin_deadline_ms.max(1)),
                ..Limits::default()
            };
            let bytes = plugin
                .as_ref()
                .map(|p| {
                    std::fs::read(p)
                        .with_context(|| format!("cannot read the plugin {}", p.display()))
                })
                .transpose()?;
            let verifier = Verifier::new(bytes.as_deref(), limits)
                .context("the verifier plugin does not load")?;
            let mut options = Options::new(Arc::new(verifier));
            options.plugin_path = plugin;
            options.upstream = upstream;
            options.management_upstream = management_upstream;
            options.graphql_introspection = graphql_introspection;
            options.throttle_failures = throttle_failures;
            options.throttle_window = throttle_window;
            options.decision_memo = !no_decision_memo;
            options.trusted_proxies = TrustedProxies::new(trusted_proxies);
            let limits = ServerLimits {
                header_timeout: Duration::from_secs(header_timeout),
                body_timeout: Duration::from_secs(body_timeout),
                idle_timeout: Duration::from_secs(idle_timeout),
                max_connections: usize::try_from(max_connections).unwrap_or(usize::MAX),
            };
            let runtime = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
            let store = match (database, replica_of) {
                (_, Some(url)) => Backend::Replica {
                    source: url,
                    token: replica_token
                        .context("--replica-of needs --replica-token (or TALLY_REPLICA_TOKEN)")?,
                },
                (Some(url), None) => Backend::Postgres(url),
                (None, None) => Backend::Sqlite(data, sqlite_sync),
            };
            // One data dir, one server: held until the process ends.
            let _lock = match &store {
                Backend::Sqlite(data, _) => Some(
                    tally::storage::DataDirLock::acquire(data)
                        .with_context(|| format!("cannot use the data dir {}", data.display()))?,
                ),
                _ => None,
            };
            config.webhook_key = match (&store, webhook_key_file) {
                (Backend::Replica { .. }, _) => None,
                // Several nodes must share one key: it is never made here.
                (Backend::Postgres(_), Some(path)) => Some(WebhookKey::load(&path)?),
                (Backend::Postgres(_), None) => None,
                (Backend::Sqlite(data, _), path) => Some(WebhookKey::load_or_create(
                    &path.unwrap_or_else(|| data.join("webhook.key")),
                )?),
            }
            .map(Arc::new);
            let sign_in = SignIn {
                oidc: oidc_issuer
                    .zip(oidc_client_id)
                    .map(|(issuer, client_id)| (issuer, client_id, oidc_client_secret)),
                admin_token: !no_admin_token_sign_in,
            };
            let webhooks = WorkerOptions {
                backoff_ms: webhook_backoff_ms,
                allow_private: allow_private_webhooks,
                ..WorkerOptions::default()
            };
            let tls = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => Some(Arc::new(
                    tally::http::Tls::load(&cert, &key).context("cannot serve TLS")?,
                )),
                _ => None,
            };
            let people = People { webhooks, sign_in };
            runtime.block_on(serve(store, listen, tls, config, options, limits, people))
        }
        Command::ExportModule { path } => {
            std::fs::write(&path, DEFAULT_MODULE)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(())
        }
        Command::AdminToken {
            data,
            name,
            database,
        } => {
            let store = match database {
                Some(url) => Backend::Postgres(url),
                None => Backend::Sqlite(data, Durability::Normal),
            };
            let (authority, first) = store.open(AuthorityConfig::new(""))?;
            let issued = match first {
                Some(issued) => issued,
                None => authority
                    .mint_admin_token(&Actor::cli(), &name)
                    .context("cannot mint the token")?,
            };
            println!("admin token: {}", issued.header());
            Ok(())
        }
    }
}

/// `--trusted-proxy`: a network, or one address.
fn parse_net(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{text:?} is not an address or CIDR network"))
}

/// What the server does for people beyond the API: their sign-in to the
/// studio, and webhooks to their apps' backends.
struct People {
    webhooks: WorkerOptions,
    sign_in: SignIn,
}

/// How the studio's sign-in is configured.
struct SignIn {
    /// Issuer, client id and secret.
    oidc: Option<(String, String, Option<String>)>,
    admin_token: bool,
}

/// Where the data lives.
enum Backend {
    Sqlite(PathBuf, Durability),
    Postgres(String),
    /// In memory, from another node's record feed.
    Replica {
        source: String,
        token: String,
    },
}

impl Backend {
    fn open(
        self,
        config: AuthorityConfig,
    ) -> anyhow::Result<(
        Arc<tally::authority::Authority>,
        Option<verifier_core::IssuedToken>,
    )> {
        match self {
            Backend::Sqlite(data, sync) => tally::open(&data, sync, Arc::new(SystemClock), config)
                .with_context(|| format!("cannot open the data dir {}", data.display())),
            // The URL may hold a password: it is not repeated in the error.
            Backend::Postgres(url) => tally::open_postgres(&url, Arc::new(SystemClock), config)
                .context("cannot open the PostgreSQL database"),
            Backend::Replica { .. } => anyhow::bail!("a replica keeps no data of its own"),
        }
    }
}

async fn serve(
    backend: Backend,
    listen: SocketAddr,
    tls: Option<Arc<tally::http::Tls>>,
    mut config: AuthorityConfig,
    options: Options,
    limits: ServerLimits,
    People { webhooks, sign_in }: People,
) -> anyhow::Result<()> {
    // Bind first: with port 0 the public URL needs the port actually bound.
    let listener = tally::http::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    if config.public_url.is_empty() {
        config.public_url = format!("{scheme}://{}", listener.local_addr()?);
    }
    let public_url = config.public_url.clone();
    let (authority, admin) = match backend {
        Backend::Replica { source, token } => {
            let replica = Arc::new(tally::storage::ReplicaStore::new());
            let source = tally::follow::Source::new(&source, &token);
            let read = tally::follow::catch_up(&replica, &source)
                .await
                .context("cannot read the authority's records")?;
            println!(
                "replica: {} records from the snapshot, {} changes after it, following the feed",
                read.snapshot_records, read.changes
            );
            tokio::spawn(tally::follow::follow(Arc::clone(&replica), source));
            let authority =
                tally::authority::Authority::replica(replica, Arc::new(SystemClock), config);
            (Arc::new(authority), None)
        }
        backend => tokio::task::spawn_blocking(move || backend.open(config)).await??,
    };
    if let Some(admin) = admin {
        // Printed once, on stdout, never logged.
        println!("admin token: {}", admin.header());
    }
    // Every node of an authority delivers webhooks (a claim keeps two from
    // sending one delivery); a replica changes nothing and sends none.
    if let (Some(key), Ok(_)) = (authority.webhook_key(), authority.store()) {
        let worker = tally::webhooks::Worker::new(Arc::clone(&authority), key, webhooks)
            .map_err(|e| anyhow::anyhow!("cannot start the webhook worker: {e}"))?;
        tokio::spawn(worker.run());
    }
    let mut options = options;
    options.sign_in.admin_token = sign_in.admin_token;
    if let Some((issuer, client_id, secret)) = &sign_in.oidc {
        let oidc = tally::studio::Oidc::discover(issuer, client_id, secret.as_deref(), &public_url)
            .await
            .map_err(|e| anyhow::anyhow!("cannot use the OpenID provider: {e}"))?;
        options.sign_in.oidc = Some(Arc::new(oidc));
        // Printed once, on stdout, never logged: the first person to sign
        // in and enter it owns every project.
        if authority.store().is_ok() {
            let claim = Arc::clone(&authority);
            if let Some(code) =
                tokio::task::spawn_blocking(move || claim.owner_claim_code()).await??
            {
                println!("owner claim code: {code}");
            }
        }
    }
    let (router, state) = tally::http::router(authority, options);
    reload_on_sighup(state, tls.clone());
    let server = tally::http::Server::spawn_tls(listener, router, limits, tls, shutdown_signal())?;
    tracing::info!(addr = %server.addr, %public_url, "tally is serving");
    println!("listening on {scheme}://{}", server.addr);
    println!("studio: {}/studio", public_url.trim_end_matches('/'));
    server.wait().await?;
    tracing::info!("stopped");
    Ok(())
}

/// SIGHUP reloads the verifier plugin (requests in flight finish on the old
/// one) and the TLS certificate and key (open connections keep theirs).
fn reload_on_sighup(state: Arc<AppState>, tls: Option<Arc<tally::http::Tls>>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            if let Some(tls) = &tls {
                match tls.reload() {
                    Ok(()) => tracing::info!("TLS certificate and key reloaded (SIGHUP)"),
                    Err(e) => {
                        tracing::error!(error = %e, "TLS reload failed; keeping the current pair")
                    }
                }
            }
            let state = Arc::clone(&state);
            match tokio::task::spawn_blocking(move || state.reload_plugin()).await {
                Ok(Ok(())) => tracing::info!("verifier plugin reloaded (SIGHUP)"),
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "plugin reload failed; keeping the current plugin")
                }
                Err(e) => tracing::error!(error = %e, "plugin reload task failed"),
            }
        }
    });
    #[cfg(not(unix))]
    drop((state, tls));
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}
