//! Azurite as a child process on loopback, loaded with a tileset by `.ci/azurite-setup.js`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::npm_tools::AzuriteTools;

/// The longest wait for Azurite to listen.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running Azurite blob server with in-memory storage; killed when dropped.
pub struct AzuriteProcess {
    child: Child,
    addr: SocketAddr,
}

impl AzuriteProcess {
    /// Starts Azurite's blob server on a free loopback port, its log and any files it writes
    /// in `work`, and waits until it accepts connections.
    pub fn start(tools: &AzuriteTools, work: &Path) -> Result<Self, String> {
        let addr = free_loopback_port()?;
        let log = std::fs::File::create(work.join("azurite.log"))
            .map_err(|e| format!("cannot create Azurite's log: {e}"))?;
        let log_err = log.try_clone().map_err(|e| e.to_string())?;
        let mut child = Command::new(&tools.azurite_blob)
            .args([
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                &addr.port().to_string(),
            ])
            .args(["--inMemoryPersistence", "--skipApiVersionCheck", "--silent"])
            // It takes no `--location` with in-memory storage; whatever else it writes goes
            // to its working directory.
            .current_dir(work)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", tools.azurite_blob.display()))?;
        let started = Instant::now();
        while TcpStream::connect(addr).is_err() {
            let exited = child.try_wait().ok().flatten();
            if exited.is_some() || started.elapsed() > START_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                let log = std::fs::read_to_string(work.join("azurite.log")).unwrap_or_default();
                return Err(format!(
                    "Azurite did not start listening: {}",
                    log.lines().last().unwrap_or("(no log)")
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(AzuriteProcess { child, addr })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Uploads every file under `dir` into a container `tiles` and returns a container SAS URL
    /// that reads and lists (`sp=rl`, as the service's mesh links). The URL holds a signature:
    /// it goes to child processes on stdin or in files of the run's temporary directory only.
    pub fn load(&self, tools: &AzuriteTools, dir: &Path) -> Result<String, String> {
        let script = crate::workspace_root().join(".ci/azurite-setup.js");
        let output = Command::new("node")
            .arg(&script)
            .arg(format!("http://{}/devstoreaccount1", self.addr))
            .arg(dir)
            .env("NODE_PATH", &tools.node_modules)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run node {}: {e}", script.display()))?;
        if !output.status.success() {
            return Err(format!(
                "loading the tileset into Azurite failed ({})",
                output.status
            ));
        }
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .find_map(|line| line.strip_prefix("AZURITE_LIST_URL='"))
            .and_then(|rest| rest.strip_suffix('\''))
            .map(str::to_owned)
            .ok_or_else(|| "the Azurite loader printed no AZURITE_LIST_URL".to_owned())
    }
}

impl Drop for AzuriteProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback address whose port was free a moment ago (Azurite takes no port 0).
fn free_loopback_port() -> Result<SocketAddr, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free loopback port: {e}"))
}
