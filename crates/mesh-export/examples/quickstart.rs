//! Starts the Mesh Export emulator in-process, gets or starts a 3D Tiles export, waits for it,
//! and prints its tileset URL.
//!
//! `cargo run -p mesh-export --example quickstart`

use mesh_export::tiles::ExportTileset as _;
use std::time::Duration;

use mesh_export::tiles::TilesetUrl;
use mesh_export::types::{ExportType, StartExport};
use mesh_export::{Client, ClientCredentials, WaitOptions};
use mesh_export_emulator::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Emulator};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::builder()
        .export_duration(Duration::from_secs(3))
        .start()
        .await?;

    // Against the real service: drop base_url, and pass your own client id and secret.
    let client = Client::builder()
        .base_url(emulator.mesh_export_url())
        .client_credentials(
            ClientCredentials::new(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
                .token_url(emulator.token_url()),
        )
        .build()?;
    let i_model_id = "b80f4fc2-4dbb-42c5-bb1f-f5aace3977dc";
    let request = StartExport {
        i_model_id: i_model_id.into(),
        changeset_id: None,
        export_type: Some(ExportType::X3dTiles),
        geometry_options: None,
        view_definition_filter: None,
    };
    let export = client.get_or_start_export(request).await?;
    println!("export {} is {}", export.id, export.status.as_str());

    let options = WaitOptions::default()
        .interval(Duration::from_millis(500))
        .on_status(|e| println!("  status: {}", e.status.as_str()));
    let export = client
        .wait_for_export(i_model_id, &export.id, options)
        .await?;

    // The signed URL of tileset.json; `tiles::Downloader` fetches the whole tileset.
    let tileset = TilesetUrl::from_export(&export)?;
    println!("tileset: {}", tileset.tileset_json());

    emulator.shutdown().await;
    Ok(())
}
