use clap::{Parser, Subcommand};
use masthead::{app, config::Config};

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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    app::init_tracing();
    let cli = Cli::parse();
    let config = Config::from_env()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => app::serve(config).await,
        Command::Migrate => app::migrate(&config).await,
        Command::Seed => app::seed(&config).await,
    }
}
