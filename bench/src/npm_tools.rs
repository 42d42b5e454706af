//! The link benchmark's peers from npm: Azurite (Microsoft's Azure Storage emulator, with
//! `@azure/storage-blob` to load it) and azcopy, installed into a cache directory on first use.
//! Each is `Err` with the reason when it cannot be had, so the report can say why it is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The Azurite release `.ci/azurite-checks` uses; the same directory serves both.
pub const AZURITE_VERSION: &str = "3.37.0";
/// The `@azure/storage-blob` release `.ci/azurite-setup.js` is run with.
pub const STORAGE_BLOB_VERSION: &str = "12.34.0";
/// The azcopy release (npm `@azure-tools/azcopy-linux`).
pub const AZCOPY_VERSION: &str = "10.32.2";

/// Where npm packages are kept between runs: `MESH_EXPORT_CI_TOOLS` (shared with `.ci/`), or
/// `bench-tools` in the target directory this binary was built into.
pub fn tools_dir(exe: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("MESH_EXPORT_CI_TOOLS") {
        return PathBuf::from(dir);
    }
    // The binary is TARGET/release/mesh-export-bench.
    exe.parent()
        .and_then(Path::parent)
        .map_or_else(std::env::temp_dir, Path::to_path_buf)
        .join("bench-tools")
}

/// An installed Azurite: its blob server and the `node_modules` that loads it.
pub struct AzuriteTools {
    /// The `azurite-blob` launcher.
    pub azurite_blob: PathBuf,
    /// The `node_modules` holding `@azure/storage-blob`, for `NODE_PATH`.
    pub node_modules: PathBuf,
}

/// Azurite and `@azure/storage-blob`, installed under `tools` (as `.ci/azurite-checks` does)
/// when missing.
pub fn azurite(tools: &Path) -> Result<AzuriteTools, String> {
    let prefix = tools.join(format!("azurite-{AZURITE_VERSION}"));
    let node_modules = prefix.join("node_modules");
    let found = AzuriteTools {
        azurite_blob: node_modules.join(".bin").join("azurite-blob"),
        node_modules: node_modules.clone(),
    };
    if !found.azurite_blob.is_file() || !node_modules.join("@azure/storage-blob").is_dir() {
        npm_install(
            &prefix,
            &[
                &format!("azurite@{AZURITE_VERSION}"),
                &format!("@azure/storage-blob@{STORAGE_BLOB_VERSION}"),
            ],
        )?;
    }
    if !found.azurite_blob.is_file() {
        return Err(format!("npm installed no {}", found.azurite_blob.display()));
    }
    find_program("node").ok_or("node is not installed (Azurite runs on it)")?;
    Ok(found)
}

/// azcopy, installed under `tools` when missing, made executable (the npm package ships it
/// without the execute bit), and checked to run: it links `libsecret-1-0`, which is installed
/// with apt-get when missing and this process runs as root.
pub fn azcopy(tools: &Path) -> Result<PathBuf, String> {
    if !(cfg!(target_os = "linux") && cfg!(target_arch = "x86_64")) {
        return Err("npm's azcopy package holds a Linux x86-64 binary only".into());
    }
    let prefix = tools.join(format!("azcopy-{AZCOPY_VERSION}"));
    let exe = prefix.join("node_modules/@azure-tools/azcopy-linux/dist/bin/azcopy_linux_amd64");
    if !exe.is_file() {
        npm_install(
            &prefix,
            &[&format!("@azure-tools/azcopy-linux@{AZCOPY_VERSION}")],
        )?;
    }
    make_executable(&exe)?;
    if azcopy_version(&exe).is_ok() {
        return Ok(exe);
    }
    install_libsecret()?;
    azcopy_version(&exe).map(|_| exe)
}

/// `azcopy --version`'s line, or why it does not run.
pub fn azcopy_version(exe: &Path) -> Result<String, String> {
    let output = Command::new(exe)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned());
    }
    Err(format!(
        "azcopy does not run ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    ))
}

/// Installs Debian's `libsecret-1-0`, which azcopy links, if apt-get can (as root).
fn install_libsecret() -> Result<(), String> {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !is_root || find_program("apt-get").is_none() {
        return Err(
            "azcopy needs libsecret-1-0; install it with `apt-get install libsecret-1-0` (as root)"
                .into(),
        );
    }
    eprintln!("azcopy needs libsecret-1-0; installing it with apt-get");
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let install = ["install", "-y", "-q", "libsecret-1-0"];
    // A machine whose package lists were never fetched knows no package yet.
    if apt(&install) || (apt(&["update", "-q"]) && apt(&install)) {
        Ok(())
    } else {
        Err("azcopy needs libsecret-1-0 and `apt-get install libsecret-1-0` failed".into())
    }
}

/// `npm install --prefix PREFIX PACKAGES`, quietly.
fn npm_install(prefix: &Path, packages: &[&str]) -> Result<(), String> {
    let npm = find_program("npm").ok_or("npm is not installed")?;
    eprintln!(
        "installing {} into {}",
        packages.join(" "),
        prefix.display()
    );
    std::fs::create_dir_all(prefix)
        .map_err(|e| format!("cannot create {}: {e}", prefix.display()))?;
    let output = Command::new(npm)
        .arg("install")
        .arg("--prefix")
        .arg(prefix)
        .args(["--silent", "--no-audit", "--no-fund"])
        .args(packages)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run npm: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "npm install {} failed ({}): {}",
            packages.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Adds the execute bits to `path`.
fn make_executable(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mut permissions = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .permissions();
    permissions.set_mode(permissions.mode() | 0o111);
    std::fs::set_permissions(path, permissions).map_err(|e| format!("{}: {e}", path.display()))
}

/// `name` on the `PATH`.
pub fn find_program(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}
