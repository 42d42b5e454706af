//! Compares the emulator's container listing with Azurite's (Microsoft's Azure Storage
//! emulator): the same List Blobs requests, paging, a SAS without `l` and a forged signature
//! must answer in the same shape from both. `.ci/azurite-checks` starts Azurite, loads the same tileset into it and
//! runs this with two container SAS URLs of it in the environment:
//! `AZURITE_LIST_URL` (permissions `rl`) and `AZURITE_READ_ONLY_URL` (`r`).
//!
//! Exits 1, saying what differs, when the shapes differ, and 2 when the URLs are missing or
//! Azurite does not answer: it never passes without having compared.

use std::process::ExitCode;
use std::time::Duration;

use mesh_export_emulator::Emulator;
use mesh_export_test_support::emulator::Api;

#[path = "../tests/emulator/xml.rs"]
mod xml;

use xml::Element;

/// The tileset `.ci/azurite-checks` dumps into Azurite: the same options give the same names.
const TILES: u32 = 8;
const TILE_BYTES: u64 = 2000;

/// One answer: status, `x-ms-error-code`, and the XML body.
struct Answer {
    status: u16,
    error_code: Option<String>,
    body: Element,
}

async fn fetch(url: &str) -> Result<Answer, String> {
    let response = reqwest::get(url)
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = response.status().as_u16();
    let error_code = response
        .headers()
        .get("x-ms-error-code")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.map_err(|e| e.to_string())?;
    Ok(Answer {
        status,
        error_code,
        body: xml::parse(&text),
    })
}

/// `{container}?{sas}&restype=container&comp=list{extra}`.
fn listing(container_url: &str, extra: &str) -> String {
    format!("{container_url}&restype=container&comp=list{extra}")
}

fn blob_names(listing: &Element) -> Vec<String> {
    listing
        .child("Blobs")
        .map(|b| {
            b.children
                .iter()
                .filter_map(|blob| blob.text_of("Name").map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// What must agree between the two listings; each difference is a line of `differences`.
fn compare_listing(what: &str, ours: &Element, azurite: &Element, differences: &mut Vec<String>) {
    let mut differ = |aspect: &str, a: String, b: String| {
        if a != b {
            differences.push(format!("{what}: {aspect}: emulator {a}, Azurite {b}"));
        }
    };
    differ("root", ours.name.clone(), azurite.name.clone());
    differ(
        "root attributes",
        format!("{:?}", ours.attribute_names()),
        format!("{:?}", azurite.attribute_names()),
    );
    differ(
        "elements",
        format!("{:?}", ours.child_names()),
        format!("{:?}", azurite.child_names()),
    );
    differ(
        "blob names",
        format!("{:?}", blob_names(ours)),
        format!("{:?}", blob_names(azurite)),
    );
    differ(
        "NextMarker empty",
        format!("{}", ours.text_of("NextMarker").unwrap_or("").is_empty()),
        format!("{}", azurite.text_of("NextMarker").unwrap_or("").is_empty()),
    );
    let blobs = |e: &Element| {
        e.child("Blobs")
            .map(|b| b.children.clone())
            .unwrap_or_default()
    };
    for (a, b) in blobs(ours).iter().zip(blobs(azurite).iter()) {
        differ(
            "blob elements",
            format!("{:?}", a.child_names()),
            format!("{:?}", b.child_names()),
        );
        let properties = |e: &Element| {
            e.child("Properties")
                .map(|p| {
                    p.child_names()
                        .into_iter()
                        .map(str::to_owned)
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        };
        let theirs = properties(b);
        let missing: Vec<String> = properties(a)
            .into_iter()
            .filter(|p| !theirs.contains(p))
            .collect();
        differ(
            "properties Azurite lacks",
            format!("{missing:?}"),
            "[]".to_owned(),
        );
        for property in ["Content-Type", "BlobType"] {
            differ(
                property,
                format!(
                    "{:?}",
                    a.child("Properties").and_then(|p| p.text_of(property))
                ),
                format!(
                    "{:?}",
                    b.child("Properties").and_then(|p| p.text_of(property))
                ),
            );
        }
    }
}

/// Every page of a listing of `max` per page, following `NextMarker`.
async fn pages(container_url: &str, max: usize) -> Result<Vec<Element>, String> {
    let mut pages = Vec::new();
    let mut marker = String::new();
    loop {
        let url = listing(container_url, &format!("&maxresults={max}&marker={marker}"));
        let answer = fetch(&url).await?;
        if answer.status != 200 {
            return Err(format!("{url}: status {}", answer.status));
        }
        marker = answer.body.text_of("NextMarker").unwrap_or("").to_owned();
        pages.push(answer.body);
        if marker.is_empty() || pages.len() > 100 {
            return Ok(pages);
        }
    }
}

async fn compare(list_url: &str, read_only_url: &str) -> Result<Vec<String>, String> {
    let emulator = Emulator::builder()
        .export_duration(Duration::ZERO)
        .tiles(TILES)
        .tile_bytes(TILE_BYTES)
        .start()
        .await
        .map_err(|e| e.to_string())?;
    let api = Api::new(&emulator).await;
    let (root, query) = api.mesh(&api.start("m").await).await;
    let ours_url = format!("{root}?{query}");
    let read_only = Emulator::builder()
        .export_duration(Duration::ZERO)
        .sas_permissions("r")
        .start()
        .await
        .map_err(|e| e.to_string())?;
    let read_only_api = Api::new(&read_only).await;
    let (root, query) = read_only_api.mesh(&read_only_api.start("m").await).await;
    let ours_read_only = format!("{root}?{query}");

    let mut differences = Vec::new();
    let ours = fetch(&listing(&ours_url, "")).await?;
    let azurite = fetch(&listing(list_url, "")).await?;
    if (ours.status, azurite.status) != (200, 200) {
        return Err(format!(
            "listing: emulator {}, Azurite {}",
            ours.status, azurite.status
        ));
    }
    compare_listing("whole listing", &ours.body, &azurite.body, &mut differences);
    println!("whole listing: {} blobs", blob_names(&ours.body).len());

    let ours = pages(&ours_url, 3).await?;
    let azurite = pages(list_url, 3).await?;
    if ours.len() != azurite.len() {
        differences.push(format!(
            "paging by 3: emulator {} pages, Azurite {}",
            ours.len(),
            azurite.len()
        ));
    }
    for (n, (a, b)) in ours.iter().zip(azurite.iter()).enumerate() {
        compare_listing(&format!("page {n}"), a, b, &mut differences);
    }
    println!("paging by 3: {} pages", ours.len());

    let ours = fetch(&listing(&ours_read_only, "")).await?;
    let azurite = fetch(&listing(read_only_url, "")).await?;
    let refusal = |a: &Answer| {
        (
            a.status,
            a.error_code.clone(),
            a.body.name.clone(),
            a.body.text_of("Code").map(str::to_owned),
        )
    };
    if refusal(&ours) != refusal(&azurite) {
        differences.push(format!(
            "listing without l: emulator {:?}, Azurite {:?}",
            refusal(&ours),
            refusal(&azurite)
        ));
    }
    println!("listing without l: {:?}", refusal(&ours));

    // A signature altered by one character: both refuse with a 403 storage error. The codes
    // differ on purpose: Azure answers `AuthenticationFailed`, as the emulator does, where
    // Azurite says `AuthorizationFailure`.
    let forge = |url: &str| url.replacen("sig=", "sig=0", 1);
    let ours = fetch(&listing(&forge(&ours_url), "")).await?;
    let azurite = fetch(&listing(&forge(list_url), "")).await?;
    let forged = |a: &Answer| (a.status, a.body.name.clone(), a.body.child_names().len());
    if forged(&ours) != forged(&azurite) {
        differences.push(format!(
            "listing with a forged signature: emulator {:?}, Azurite {:?}",
            refusal(&ours),
            refusal(&azurite)
        ));
    }
    println!(
        "listing with a forged signature: emulator {:?}, Azurite {:?}",
        refusal(&ours),
        refusal(&azurite)
    );
    Ok(differences)
}

#[tokio::main]
async fn main() -> ExitCode {
    let (Ok(list_url), Ok(read_only_url)) = (
        std::env::var("AZURITE_LIST_URL"),
        std::env::var("AZURITE_READ_ONLY_URL"),
    ) else {
        eprintln!(
            "azurite_listing: set AZURITE_LIST_URL and AZURITE_READ_ONLY_URL (see .ci/azurite-checks); nothing was compared"
        );
        return ExitCode::from(2);
    };
    match compare(&list_url, &read_only_url).await {
        Ok(differences) if differences.is_empty() => {
            println!("the emulator's listing and Azurite's agree in shape, paging and refusal");
            ExitCode::SUCCESS
        }
        Ok(differences) => {
            for difference in &differences {
                eprintln!("differs: {difference}");
            }
            ExitCode::from(1)
        }
        Err(err) => {
            eprintln!("azurite_listing: {err}");
            ExitCode::from(2)
        }
    }
}
