//! Firefox for the browser tests: Debian's Firefox ESR through geckodriver
//! (built with `cargo install geckodriver`, see `.ci/run`). One geckodriver
//! drives one browser session, so each browser gets its own driver.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use fantoccini::{Client, ClientBuilder};

pub const FIREFOX: &str = "/usr/bin/firefox-esr";
pub const PULSEAUDIO: &str = "/usr/bin/pulseaudio";

/// Where geckodriver is: `$GECKODRIVER`, else on the `PATH`, else in
/// cargo's bin directory (`$CARGO_HOME/bin`, by default `~/.cargo/bin`),
/// where `.ci/run` installs it.
pub fn geckodriver() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("GECKODRIVER") {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).map(|dir| dir.join("geckodriver")).collect::<Vec<_>>())
        .unwrap_or_default();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    on_path.into_iter().chain(cargo_home.map(|home| home.join("bin").join("geckodriver"))).find(|p| p.is_file())
}

/// The preferences that let a test page talk without a person at the
/// keyboard: media without a permission prompt, sound without a gesture,
/// and ICE on loopback (the test server advertises 127.0.0.1, which Firefox
/// otherwise never pairs with), with host addresses in the clear rather
/// than hidden behind mDNS names. The microphone permission matters to
/// ICE too: a page without it gets only the default route's addresses.
fn prefs() -> serde_json::Value {
    serde_json::json!({
        "media.navigator.permission.disabled": true,
        "media.navigator.streams.fake": true,
        "permissions.default.microphone": 1,
        "media.autoplay.default": 0,
        "media.autoplay.block-webaudio": false,
        "media.autoplay.blocking_policy": 0,
        "media.peerconnection.ice.loopback": true,
        "media.peerconnection.ice.obfuscate_host_addresses": false,
        // Quiet and fast: no first-run pages, updates or telemetry.
        "app.update.disabledForTesting": true,
        "browser.shell.checkDefaultBrowser": false,
        "datareporting.policy.dataSubmissionEnabled": false,
        "toolkit.telemetry.reportingpolicy.firstRun": false,
    })
}

/// A PulseAudio of this test's own with one null sink: Firefox's Web Audio
/// only runs with an audio output, and a machine without a sound card has
/// none. The null sink plays nothing but keeps real time, so a tone made
/// by Web Audio is sent at the real rate. Returns the server and its socket.
fn sound_server(runtime: &std::path::Path) -> (Child, PathBuf) {
    let socket = runtime.join("native");
    let mut pulse = Command::new(PULSEAUDIO)
        .args(["-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no", "--disable-shm=yes"])
        .args(["-L", "module-null-sink sink_name=officehours"])
        .arg("-L")
        .arg(format!("module-native-protocol-unix socket={} auth-anonymous=1", socket.display()))
        .env("HOME", runtime)
        .env("XDG_RUNTIME_DIR", runtime)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start pulseaudio");
    for _ in 0..200 {
        if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
            return (pulse, socket);
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    let _ = pulse.kill();
    let _ = pulse.wait();
    panic!("pulseaudio did not open {}", socket.display());
}

pub struct Gecko {
    child: Child,
    /// The sound server Firefox plays into (see [`sound_server`]).
    pulse: Child,
    /// PulseAudio's home and socket, removed when the driver goes.
    _runtime: tempfile::TempDir,
    port: u16,
    /// A session is open (geckodriver holds one at a time).
    used: Mutex<bool>,
}

impl Gecko {
    /// geckodriver with the browser's clock in `zone`; `None` (skipped)
    /// when Firefox ESR or geckodriver is missing, a failure in CI.
    pub fn start(zone: &str) -> Option<Gecko> {
        let driver = geckodriver();
        let available =
            std::path::Path::new(FIREFOX).exists() && std::path::Path::new(PULSEAUDIO).exists() && driver.is_some();
        let what = "Firefox ESR, PulseAudio and geckodriver (apt-get install firefox-esr pulseaudio; cargo install geckodriver)";
        if !super::require(what, available) {
            return None;
        }
        let runtime = tempfile::tempdir().unwrap();
        let (pulse, socket) = sound_server(runtime.path());
        let port = super::free_port();
        // The BiDi WebSocket port too: its default (9222) may be taken.
        let websocket = super::free_port();
        // Firefox's own logging goes there too, e.g. with MOZ_LOG=jsep:5,nicer:5.
        let (out, err) = match std::env::var_os("OH_GECKODRIVER_LOG") {
            Some(path) => {
                let file = std::fs::File::create(path).expect("the geckodriver log");
                (Stdio::from(file.try_clone().unwrap()), Stdio::from(file))
            }
            None => (Stdio::null(), Stdio::null()),
        };
        let child = Command::new(driver.unwrap())
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--websocket-port", &websocket.to_string()])
            .env("TZ", zone)
            .env("PULSE_SERVER", format!("unix:{}", socket.display()))
            .stdout(out)
            .stderr(err)
            // Its own process group, so that Firefox goes with it.
            .process_group(0)
            .spawn()
            .expect("start geckodriver");
        let gecko = Gecko { child, pulse, _runtime: runtime, port, used: Mutex::new(false) };
        super::wait_for_port(port, "geckodriver");
        Some(gecko)
    }

    /// The one headless Firefox of this driver.
    pub async fn browser(&self, width: u32, height: u32) -> Client {
        {
            let mut used = self.used.lock().unwrap();
            assert!(!*used, "one geckodriver drives one browser: start another");
            *used = true;
        }
        let caps = serde_json::json!({
            "browserName": "firefox",
            "moz:firefoxOptions": {
                "binary": FIREFOX,
                "args": ["-headless", format!("--width={width}"), format!("--height={height}")],
                "prefs": prefs(),
                "log": { "level": if std::env::var_os("OH_GECKODRIVER_LOG").is_some() { "debug" } else { "warn" } },
            },
        });
        let serde_json::Value::Object(caps) = caps else { unreachable!() };
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a Firefox session")
    }
}

impl Drop for Gecko {
    /// geckodriver and the Firefox it started (and Firefox's content
    /// processes), even when the test failed before closing the session.
    fn drop(&mut self) {
        let group = self.child.id() as libc::pid_t;
        // SAFETY: a plain signal to the process group this driver created.
        unsafe { libc::kill(-group, libc::SIGKILL) };
        let _ = self.child.wait();
        let _ = self.pulse.kill();
        let _ = self.pulse.wait();
    }
}
