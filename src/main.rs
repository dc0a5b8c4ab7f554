use clap::{Parser, Subcommand};
use masthead::{app, cli, config::Config};

#[derive(Parser)]
#[command(name = "masthead", version, about = "A self-hosted storefront for periodical publishers")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the shop (the default): migrates, loads the demo catalog into an empty database, listens on MASTHEAD_ADDR.
    Serve,
    /// Run the database migrations and exit.
    Migrate,
    /// Load the demo catalog from fixtures/ (rows that already exist are left alone) and exit.
    Seed,
    /// Add a realistic volume of made-up data to the demo shop (ten years of issues, 200 coupons,
    /// 20,000 orders, 50,000 subscriptions), for benchmarks and for trying the admin. Runs once.
    SampleData,
    /// Manage staff accounts.
    #[command(subcommand)]
    Staff(StaffCommand),
    /// Bring existing records in.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Back up a shop on SQLite while it runs: a consistent snapshot of the database and the media
    /// folder, in one new archive (a .tar.gz) at DEST. On PostgreSQL use pg_dump (see the README).
    Backup { dest: std::path::PathBuf },
    /// Restore a backup archive into MASTHEAD_DATA_DIR, which must hold no shop yet. The whole
    /// archive is checked before anything is written.
    Restore { archive: std::path::PathBuf },
    /// Write the whole shop (every table's rows and every upload) into a new archive at FILE, from
    /// a running shop on either database: the way to move it to another database.
    Export { file: std::path::PathBuf },
    /// Manage uploaded covers and PDFs.
    #[command(subcommand)]
    Media(MediaCommand),
}

#[derive(Subcommand)]
enum MediaCommand {
    /// Copy the data folder's uploads into S3-compatible object storage (credentials from the
    /// usual AWS_* variables), checking each copy; safe to run again.
    Migrate {
        /// Where to: s3://bucket/prefix, as MASTHEAD_MEDIA_URL will name it.
        #[arg(long)]
        to: String,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Load a `masthead export` into the database and media store configured here, which must
    /// hold no shop yet (run it before any instance starts there). The archive is checked whole first.
    Shop { file: std::path::PathBuf },
    /// Import a subscriber list (CSV, UTF-8; the columns are in the README). Every row is checked
    /// first: with any problem nothing is imported. Rows imported before are left alone.
    Subscribers {
        file: std::path::PathBuf,
        /// Check the file and report what would be imported, without importing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Create a staff account. The password is read from standard input; with none given, a
    /// one-time link to set it is printed instead.
    Add {
        email: String,
        /// An admin also manages staff.
        #[arg(long)]
        admin: bool,
    },
    /// List staff accounts.
    List,
    /// Disable a staff account (it is signed out at its next request).
    Disable { email: String },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    app::init_tracing();
    let args = Cli::parse();
    let config = Config::from_env()?;
    match args.command.unwrap_or(Command::Serve) {
        Command::Serve => app::serve(config).await,
        Command::Migrate => cli::migrate(&config).await,
        Command::Seed => cli::seed(&config).await,
        Command::SampleData => cli::sample_data(&config).await,
        Command::Staff(StaffCommand::Add { email, admin }) => cli::staff_add(&config, &email, admin).await,
        Command::Staff(StaffCommand::List) => cli::staff_list(&config).await,
        Command::Staff(StaffCommand::Disable { email }) => cli::staff_disable(&config, &email).await,
        Command::Import(ImportCommand::Subscribers { file, dry_run }) => {
            cli::import_subscribers(&config, &file, dry_run).await
        }
        Command::Backup { dest } => cli::backup(&config, &dest).await,
        Command::Restore { archive } => cli::restore(&config, &archive),
        Command::Export { file } => cli::export(&config, &file).await,
        Command::Import(ImportCommand::Shop { file }) => cli::import(&config, &file).await,
        Command::Media(MediaCommand::Migrate { to }) => cli::media_migrate(&config, &to).await,
    }
}
