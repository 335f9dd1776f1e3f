//! The command line: the only module that knows clap. It parses, turns the
//! arguments into the option structs of `commands`, and maps the outcome
//! to an exit code and an `error:` line.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::commands::init::InitOptions;
use crate::commands::policy::PolicyChange;
use crate::commands::{
    self, archive, ca_pin, cert, channel, check, deployed, init, key, plan, policy, publish,
    reports, rotate, schedule, snippet, status, timeline, verify, Ctx, Out,
};
use crate::header::{MaxAge, Mode};
use crate::keys::KeyType;
use crate::state::Endpoint;
use crate::store::Store;

#[derive(Parser)]
#[command(
    name = "pinctl",
    version,
    about = "Run the whole life of an HTTP Public Key Pinning (RFC 7469) deployment",
    after_help = "Examples:\n  pinctl pin cert.pem\n  pinctl lint 'Public-Key-Pins: pin-sha256=\"…\"; pin-sha256=\"…\"; max-age=600'"
)]
struct Cli {
    /// The state folder.
    #[arg(long, global = true, env = "PINCTL_STATE", default_value = "state", value_hint = clap::ValueHint::DirPath)]
    state: PathBuf,
    /// Which site, when the state holds more than one.
    #[arg(long, global = true, env = "PINCTL_SITE")]
    site: Option<String>,
    /// Read the archive passphrase from this file (else PINCTL_PASSPHRASE, else a prompt).
    #[arg(long, global = true, value_hint = clap::ValueHint::FilePath)]
    passphrase_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// The settings `pinctl policy` changes; each `--x`/`--no-x` pair becomes
/// one optional change.
#[derive(clap::Args)]
struct PolicyArgs {
    /// How long clients keep the pins, in seconds; 0 makes them forget (decommission). A value too large to hold is clamped, as clients do.
    #[arg(long, value_parser = max_age_arg)]
    max_age: Option<MaxAge>,
    /// Send Public-Key-Pins: clients remember and enforce the pins.
    #[arg(long, conflicts_with = "report_only")]
    enforce: bool,
    /// Send Public-Key-Pins-Report-Only: clients only report (the roll-out's first stage).
    #[arg(long)]
    report_only: bool,
    /// Pin every subdomain too.
    #[arg(long, conflicts_with = "no_include_subdomains")]
    include_subdomains: bool,
    /// Stop pinning subdomains.
    #[arg(long)]
    no_include_subdomains: bool,
    /// Where clients send violation reports (https, not on the pinned host).
    #[arg(long, conflicts_with = "no_report_uri")]
    report_uri: Option<String>,
    /// Send no report-uri.
    #[arg(long)]
    no_report_uri: bool,
    /// Where the site is served, for `check --live` (repeatable).
    #[arg(long = "endpoint")]
    endpoints: Vec<String>,
    /// Connect to this HOST:PORT for the endpoints given with it.
    #[arg(long, requires = "endpoints")]
    connect: Option<String>,
    /// Verify the endpoints given with it against this CA file.
    #[arg(long, requires = "endpoints", value_hint = clap::ValueHint::FilePath)]
    endpoint_ca_file: Option<PathBuf>,
    /// Forget every recorded endpoint.
    #[arg(long, conflicts_with = "endpoints")]
    no_endpoints: bool,
}

#[derive(clap::Args)]
struct SiteArgs {
    /// Output: text for people, json for scripts.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Extra DNS names for the CSRs (repeatable; `*.example.com` allowed).
    #[arg(long = "san")]
    sans: Vec<String>,
    /// Type of the primary key (and of the backups, unless --backup-key-type).
    #[arg(long, default_value = "p256", value_parser = key_type_parser())]
    key_type: KeyType,
    /// Another type for the backups (diversity against an algorithm break).
    #[arg(long, value_parser = key_type_parser())]
    backup_key_type: Option<KeyType>,
    /// How many backup keys (at least 2).
    #[arg(long, default_value_t = 2)]
    backups: u32,
    /// max-age of the policy, in seconds (the roll-out starts in Report-Only).
    #[arg(long, default_value = "300", value_parser = max_age_arg)]
    max_age: MaxAge,
    /// Pin every subdomain too (clients apply the pinset to all of them).
    #[arg(long)]
    include_subdomains: bool,
    /// Where browsers send reports (https, not on the pinned host).
    #[arg(long)]
    report_uri: Option<String>,
    /// Encrypt archives to this age or SSH recipient (repeatable) instead of a passphrase.
    #[arg(long = "recipient")]
    recipients: Vec<String>,
    /// Encrypt archives to the recipients in this file (one per line).
    #[arg(long, value_hint = clap::ValueHint::FilePath)]
    recipients_file: Option<PathBuf>,
    /// ASCII-armored archives (for paper or e-mail).
    #[arg(long)]
    armor: bool,
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Decrypt one key to a file (mode 0600) for deployment.
    #[command(
        after_help = "Example:\n  pinctl key export primary --out /etc/ssl/private/example.com.key"
    )]
    Export {
        /// The key to export (primary, backup1, …).
        name: String,
        /// Where to write the key in the clear (mode 0600; outside the state folder).
        #[arg(long, value_hint = clap::ValueHint::FilePath)]
        out: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
        /// age identity file, for archives encrypted to recipients.
        #[arg(long, value_hint = clap::ValueHint::FilePath)]
        identity: Option<PathBuf>,
        /// Output: text for people, json for scripts.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Delete the archive of a retired or compromised key once no pinset
    /// clients may hold accepts it, and record the destruction.
    #[command(
        after_help = "Examples:\n  pinctl plan                      # says from when primary may go\n  pinctl key destroy primary\n  pinctl key destroy primary --force   # before that date: roll-back becomes impossible"
    )]
    Destroy {
        /// The retired or compromised key.
        name: String,
        /// Destroy it although clients may still accept it (no roll-back to it is possible afterwards).
        #[arg(long)]
        force: bool,
        /// Output: text for people, json for scripts.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

#[derive(Subcommand)]
enum CaPinCommand {
    /// Add a CA pin.
    #[command(
        after_help = "Examples:\n  pinctl ca-pin add letsencrypt-r11 --from r11.pem\n  pinctl ca-pin add other-ca --pin 'base64…='"
    )]
    Add {
        /// A name for the pin (1 to 64 letters, digits, - and _).
        name: String,
        /// The pin itself: base64 of the SHA-256 of the CA's public key.
        #[arg(long, conflicts_with = "from", required_unless_present = "from")]
        pin: Option<String>,
        /// A CA certificate (PEM or DER) to take the pin from.
        #[arg(long, value_hint = clap::ValueHint::FilePath)]
        from: Option<PathBuf>,
        /// Output: text for people, json for scripts.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Remove a CA pin.
    #[command(after_help = "Example:\n  pinctl ca-pin remove other-ca")]
    Remove {
        /// The CA pin's name (see ca-pin list).
        name: String,
        /// Output: text for people, json for scripts.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// List the CA pins.
    #[command(after_help = "Example:\n  pinctl ca-pin list --format json")]
    List {
        /// Output: text for people, json for scripts.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

#[derive(Subcommand)]
enum ReportsCommand {
    /// Run the collector: takes report POSTs on any path, answers 204 once a report is stored.
    #[command(
        after_help = "Examples:\n  pinctl reports serve\n  pinctl reports serve --listen 0.0.0.0:8470 --database /var/lib/pinctl/reports.sqlite\n\nPoint report-uri (pinctl policy --report-uri) or TrustKit's TSKReportUris at it, behind a reverse proxy that terminates TLS."
    )]
    Serve {
        /// Address and port to listen on.
        #[arg(long, default_value = "127.0.0.1:8470")]
        listen: std::net::SocketAddr,
        /// The report store: a SQLite file (default: reports.sqlite in the state folder), or a postgres://USER@HOST:PORT/DB URL (or host=… dbname=… string) several collectors share; the password from PGPASSWORD or PGPASSFILE.
        #[arg(long, env = "PINCTL_REPORTS_DATABASE", hide_env_values = true)]
        database: Option<String>,
        /// Seconds a client has to send a request's headers (at least 1).
        #[arg(long, default_value_t = 10, value_parser = at_least_one::<u64>)]
        header_timeout: u64,
        /// Seconds a client has to send a request's body (at least 1).
        #[arg(long, default_value_t = 10, value_parser = at_least_one::<u64>)]
        body_timeout: u64,
        /// Connections served at once (at least 1).
        #[arg(long, default_value_t = 1024, value_parser = at_least_one::<usize>)]
        max_connections: usize,
        /// Reports per second allowed from one address (then 429; above 0).
        #[arg(long, default_value_t = 50.0, value_parser = above_zero)]
        rate: f64,
        /// Reports one address may send at once before the rate applies (above 0).
        #[arg(long, default_value_t = 200.0, value_parser = above_zero)]
        burst: f64,
        /// A reverse proxy (ADDRESS or ADDRESS/PREFIX, repeatable) whose X-Forwarded-For (or Forwarded: for=) names the client; without it forwarding headers are ignored.
        #[arg(long = "trusted-proxy", value_name = "ADDR|CIDR", value_parser = trusted_proxy)]
        trusted_proxy: Vec<crate::reports::client::Cidr>,
        /// Serve TLS directly with this PEM certificate chain (leaf first) instead of behind a proxy.
        #[arg(long, requires = "tls_key", value_hint = clap::ValueHint::FilePath)]
        tls_cert: Option<PathBuf>,
        /// The PEM private key of --tls-cert (PKCS#8, SEC1 or PKCS#1, unencrypted; keep it 0600).
        #[arg(long, requires = "tls_cert", value_hint = clap::ValueHint::FilePath)]
        tls_key: Option<PathBuf>,
    },
    /// List the stored reports, deduplicated, with counts and first and last seen.
    #[command(
        after_help = "Examples:\n  pinctl reports list --since 7d\n  pinctl --site example.com reports list --format json"
    )]
    List {
        /// Only reports last seen since then: RFC 3339, YYYY-MM-DD, or a duration back (90m, 24h, 7d).
        #[arg(long)]
        since: Option<String>,
        /// The report store: a SQLite file (default: reports.sqlite in the state folder), or a postgres://USER@HOST:PORT/DB URL (or host=… dbname=… string) several collectors share; the password from PGPASSWORD or PGPASSFILE.
        #[arg(long, env = "PINCTL_REPORTS_DATABASE", hide_env_values = true)]
        database: Option<String>,
        /// Output: text for people, json for scripts.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Count the stored reports per site and class.
    #[command(after_help = "Examples:\n  pinctl reports summary --since 7d")]
    Summary {
        /// Only reports last seen since then: RFC 3339, YYYY-MM-DD, or a duration back (90m, 24h, 7d).
        #[arg(long)]
        since: Option<String>,
        /// The report store: a SQLite file (default: reports.sqlite in the state folder), or a postgres://USER@HOST:PORT/DB URL (or host=… dbname=… string) several collectors share; the password from PGPASSWORD or PGPASSFILE.
        #[arg(long, env = "PINCTL_REPORTS_DATABASE", hide_env_values = true)]
        database: Option<String>,
        /// Output: text for people, json for scripts.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Delete the stored reports last seen before a time (the unit runs it).
    #[command(
        after_help = "Examples:\n  pinctl reports prune --older-than 90d\n  PINCTL_REPORTS_DATABASE=/var/lib/pinctl-reports/reports.sqlite pinctl reports prune --older-than 30d"
    )]
    Prune {
        /// Delete what was last seen before this: a duration back (90m, 24h, 90d), RFC 3339, or YYYY-MM-DD.
        #[arg(long)]
        older_than: String,
        /// The report store: a SQLite file (default: reports.sqlite in the state folder), or a postgres://USER@HOST:PORT/DB URL (or host=… dbname=… string) several collectors share; the password from PGPASSWORD or PGPASSFILE.
        #[arg(long, env = "PINCTL_REPORTS_DATABASE", hide_env_values = true)]
        database: Option<String>,
    },
    /// Print a hardened systemd service that runs the collector.
    #[command(
        after_help = "Example:\n  pinctl --state /var/lib/pinctl reports unit > /etc/systemd/system/pinctl-reports.service"
    )]
    Unit {
        /// Address and port the collector listens on.
        #[arg(long, default_value = "127.0.0.1:8470")]
        listen: std::net::SocketAddr,
        /// The system user the collector runs as (create it; the unit says how).
        #[arg(long, default_value = "pinctl-reports")]
        user: String,
        /// The report store the unit names in PINCTL_REPORTS_DATABASE (default: /var/lib/pinctl-reports/reports.sqlite, the unit's StateDirectory); a password belongs in PGPASSFILE, never here.
        #[arg(long, env = "PINCTL_REPORTS_DATABASE", hide_env_values = true)]
        database: Option<String>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PictureFormat {
    Text,
    Svg,
    Html,
}

#[derive(Clone, Copy, ValueEnum)]
enum ChannelKindArg {
    Dns,
    Android,
    Trustkit,
    Ios,
    Okhttp,
}

impl From<ChannelKindArg> for crate::state::ChannelKind {
    fn from(k: ChannelKindArg) -> Self {
        use crate::state::ChannelKind as K;
        match k {
            ChannelKindArg::Dns => K::Dns,
            ChannelKindArg::Android => K::Android,
            ChannelKindArg::Trustkit => K::Trustkit,
            ChannelKindArg::Ios => K::Ios,
            ChannelKindArg::Okhttp => K::Okhttp,
        }
    }
}

/// A yes-or-no option value.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum YesNo {
    Yes,
    No,
}

#[derive(Subcommand)]
enum ChannelCommand {
    /// Add a channel: DANE TLSA records, or an app platform's pinning.
    #[command(
        after_help = "Examples:\n  pinctl channel add dns --ttl 3600\n  pinctl channel add dns --ttl 3600 --port 25 --server ns1.example.net --tsig-key /etc/pinctl/update.key\n  pinctl channel add android --expires-after 90 --include-subdomains\n  pinctl channel add ios --horizon 60\n  pinctl channel add trustkit --expires-after 60 --swizzle no\n  pinctl channel add okhttp --name api-okhttp --horizon 30 --include-subdomains"
    )]
    Add {
        /// dns, android, trustkit, ios or okhttp.
        #[arg(value_enum)]
        kind: ChannelKindArg,
        /// Its name (default: the kind; 1 to 64 letters, digits, - and _).
        #[arg(long)]
        name: Option<String>,
        /// dns: the RRset's TTL in seconds (required; 1 to 2147483647, RFC 2181 section 8).
        #[arg(long, required_if_eq("kind", "dns"))]
        ttl: Option<u64>,
        /// dns: the TLS port of the TLSA owner name (default 443).
        #[arg(long)]
        port: Option<u16>,
        /// android/trustkit: each release's pin-set expires this many days after it ships.
        #[arg(long = "expires-after", value_name = "DAYS")]
        expires_after: Option<u32>,
        /// ios/okhttp: old builds are refused this many days (at least 1) after a newer one ships; without it, what a release pins is held for ever.
        #[arg(long, value_name = "DAYS")]
        horizon: Option<u32>,
        /// Apps: the pins apply to subdomains too (iOS: one label; Android, TrustKit, OkHttp `**.`: any depth).
        #[arg(long)]
        include_subdomains: bool,
        /// okhttp: `*.` (one label, OkHttp 3.x) instead of `**.` (any depth).
        #[arg(long, requires = "include_subdomains")]
        one_label: bool,
        /// trustkit: TSKSwizzleNetworkDelegates. yes: TrustKit hooks the app's NSURLSession/NSURLConnection delegates and checks pins itself; no: the app calls TrustKit's validator from its own challenge handlers [default: yes].
        #[arg(long, value_enum, value_name = "YES|NO")]
        swizzle: Option<YesNo>,
        /// dns: the zone's primary server, HOST[:PORT] (port 53 by default): publish then updates the zone itself by RFC 2136, signed with --tsig-key, and check --live reads the RRset back.
        #[arg(long, value_name = "HOST[:PORT]", requires = "tsig_key")]
        server: Option<String>,
        /// dns: the BIND key file (as tsig-keygen -a hmac-sha256 NAME writes it) whose key signs the updates; the state records its path, never the secret.
        #[arg(long, value_name = "FILE", requires = "server", value_hint = clap::ValueHint::FilePath)]
        tsig_key: Option<PathBuf>,
        /// Output: text for people, json for scripts.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Change how pinctl reaches a dns channel's zone: set its server and TSIG key, or remove them (back to the manual flow).
    #[command(
        after_help = "Examples:\n  pinctl channel set dns --server 192.0.2.53 --tsig-key /etc/pinctl/update.key\n  pinctl channel set dns --tsig-key /etc/pinctl/new.key   # a new key, same server\n  pinctl channel set dns --check-server 198.51.100.53 --check-server [2001:db8::53]:53   # wait on these secondaries, not the NS set\n  pinctl channel set dns --no-server                        # print records again; the operator edits the zone"
    )]
    Set {
        /// The dns channel's name (see channel list).
        name: String,
        /// The zone's primary server, HOST[:PORT] (port 53 by default).
        #[arg(long, value_name = "HOST[:PORT]")]
        server: Option<String>,
        /// The BIND key file whose TSIG key signs the updates (its path is recorded, never the secret).
        #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
        tsig_key: Option<PathBuf>,
        /// Remove the server and key: publish records the operator's word again.
        #[arg(long, conflicts_with_all = ["server", "tsig_key", "check_server"])]
        no_server: bool,
        /// An authoritative server publish waits on and check --live reads besides the primary, HOST[:PORT]; repeat for each. Replaces the zone's NS set (use when its addresses are not reachable from here); `none` goes back to the NS set.
        #[arg(long, value_name = "HOST[:PORT]")]
        check_server: Vec<String>,
        /// Output: text for people, json for scripts.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// List the channels and until when what each published may be held.
    #[command(
        after_help = "Examples:\n  pinctl channel list\n  pinctl channel list --format json"
    )]
    List {
        /// Output: text for people, json for scripts.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Stop planning for a channel; what it published still counts.
    #[command(after_help = "Example:\n  pinctl channel retire okhttp")]
    Retire {
        /// The channel's name (see channel list).
        name: String,
        /// Output: text for people, json for scripts.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

#[derive(Subcommand)]
enum CertCommand {
    /// Record a certificate (or chain, leaf first) issued for one of the site's keys.
    ///
    /// Only the leaf's own key and its verified direct issuer (the second
    /// certificate, if its signature on the leaf checks out and it is a CA)
    /// count when pinctl decides whether a pinset accepts the key. A file
    /// whose certificates do not sign one another in order is recorded with a
    /// warning and earns no CA credit; pins of certificates above the direct
    /// issuer never count, since clients may build another path.
    #[command(after_help = "Example:\n  pinctl cert add fullchain.pem")]
    Add {
        /// The certificate file (PEM or DER), leaf first.
        #[arg(value_hint = clap::ValueHint::FilePath)]
        file: PathBuf,
        /// Record it even if its chain would lock visitors out.
        #[arg(long)]
        force: bool,
        /// Output: text for people, json for scripts.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Get a certificate by ACME for a key's stored CSR (default: the active key) and record it as `cert add` does.
    ///
    /// The order names every name of the site; the CA signs the CSR made
    /// at `init` or `rotate`, so the private key is never opened. The
    /// challenge settings are remembered for `pinctl renew`; without a
    /// flag the remembered ones are used. Needs `pinctl acme account`.
    #[command(
        after_help = "Examples:\n  pinctl cert issue --http01-webroot /var/www/html\n  pinctl cert issue backup1 --http01-listen 0.0.0.0:80\n  pinctl cert issue --dns01-rfc2136 ns1.example.com:53 --tsig-key /etc/pinctl/update.key"
    )]
    Issue {
        /// The key (default: the active key).
        key: Option<String>,
        #[command(flatten)]
        how: ChallengeArgs,
        /// Output: text for people, json for scripts.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

impl From<ChallengeArgs> for commands::acme::AnswerOptions {
    fn from(a: ChallengeArgs) -> Self {
        commands::acme::AnswerOptions {
            http01_listen: a.http01_listen,
            http01_webroot: a.http01_webroot,
            dns01_rfc2136: a.dns01_rfc2136,
            tsig_key: a.tsig_key,
        }
    }
}

/// How `cert issue` answers the CA's challenges (one of them).
#[derive(clap::Args)]
struct ChallengeArgs {
    /// HTTP-01: listen on ADDRESS:PORT and answer the CA (port 80 of every name must reach it).
    #[arg(long, value_name = "ADDR", conflicts_with_all = ["http01_webroot", "dns01_rfc2136"])]
    http01_listen: Option<String>,
    /// HTTP-01: write the answers under DIR/.well-known/acme-challenge/ of the web server's document root.
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath, conflicts_with = "dns01_rfc2136")]
    http01_webroot: Option<PathBuf>,
    /// DNS-01: update _acme-challenge TXT records on this primary server (RFC 2136), HOST[:PORT].
    #[arg(long, value_name = "HOST[:PORT]", requires = "tsig_key")]
    dns01_rfc2136: Option<String>,
    /// The TSIG key file (as tsig-keygen writes it) that signs the DNS updates.
    #[arg(long, value_name = "FILE", requires = "dns01_rfc2136", value_hint = clap::ValueHint::FilePath)]
    tsig_key: Option<PathBuf>,
}

#[derive(Subcommand)]
enum AcmeCommand {
    /// Register an ACME account, or find the one the state already holds.
    ///
    /// The account key is kept in the state folder (acme-account.json,
    /// 0600, in the clear so that `pinctl renew` runs from a timer; see
    /// docs/security.md).
    #[command(
        after_help = "Examples:\n  pinctl acme account --directory https://acme-v02.api.letsencrypt.org/directory --email ops@example.com\n  pinctl acme account --directory https://localhost:14000/dir --ca-file pebble-ca.pem\n  pinctl acme account --directory https://acme.zerossl.com/v2/DV90 --eab-kid KID --eab-hmac-file eab.key"
    )]
    Account {
        /// The CA's directory URL (https://).
        #[arg(long)]
        directory: String,
        /// Trust this CA file for the directory's TLS instead of the system's roots (remembered).
        #[arg(long, value_hint = clap::ValueHint::FilePath)]
        ca_file: Option<PathBuf>,
        /// A contact address for the CA's expiry and incident mail.
        #[arg(long)]
        email: Option<String>,
        /// External account binding: the key id the CA gave.
        #[arg(long, requires = "eab_hmac_file")]
        eab_kid: Option<String>,
        /// External account binding: a file holding the MAC key the CA gave (base64url).
        #[arg(long, requires = "eab_kid", value_hint = clap::ValueHint::FilePath)]
        eab_hmac_file: Option<PathBuf>,
        /// Output: text for people, json for scripts.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

#[derive(Subcommand)]
enum ArchiveCommand {
    /// Copy a key's archive (and a manifest) to an offline place and record it.
    #[command(
        after_help = "Example:\n  pinctl archive copy backup1 --to /media/usb1 --location 'bank safe'"
    )]
    Copy {
        /// The key whose archive to copy.
        name: String,
        /// The folder to copy it to (a USB stick, a mounted safe).
        #[arg(long, value_hint = clap::ValueHint::DirPath)]
        to: PathBuf,
        /// A label for the place, as the plan and status will name it (1 to 200 characters, no control characters).
        #[arg(long)]
        location: String,
        /// Output: text for people, json for scripts.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Check an offline copy: checksum, decryption, pin; record the date.
    #[command(after_help = "Example:\n  pinctl archive verify backup1 --from /media/usb1")]
    Verify {
        /// The key whose copy to check.
        name: String,
        /// The folder that holds the copy.
        #[arg(long, value_hint = clap::ValueHint::DirPath)]
        from: PathBuf,
        /// age identity file, for archives encrypted to recipients.
        #[arg(long, value_hint = clap::ValueHint::FilePath)]
        identity: Option<PathBuf>,
        /// Output: text for people, json for scripts.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum PinFormat {
    Text,
    Json,
    Header,
    Tlsa,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Text,
    Json,
}

/// How a probe connects (`--connect`, `--ca-file`, `--insecure`), as
/// `verify` does.
#[derive(clap::Args)]
struct ProbeHow {
    /// With --from-url: connect to this address (host:port) instead of the URL's host.
    #[arg(long, requires = "from_url")]
    connect: Option<String>,
    /// With --from-url: verify the server with this CA file.
    #[arg(long, requires = "from_url", value_hint = clap::ValueHint::FilePath)]
    ca_file: Option<PathBuf>,
    /// With --from-url: do not verify the server's certificate.
    #[arg(long, requires = "from_url")]
    insecure: bool,
}

impl ProbeHow {
    fn target(self, url: Option<String>) -> Option<crate::probe::Target> {
        url.map(|url| crate::probe::Target {
            url,
            connect: self.connect,
            ca_file: self.ca_file,
            insecure: self.insecure,
        })
    }
}

/// `import --from-url` and how to connect.
#[derive(clap::Args)]
struct ImportProbe {
    /// Probe this https URL for the header served (as verify does); it must serve the imported key.
    #[arg(long)]
    from_url: Option<String>,
    #[command(flatten)]
    how: ProbeHow,
}

/// `deployed --from-url` and how to connect.
#[derive(clap::Args)]
struct DeployedProbe {
    /// Probe this https URL and record the key only if the server presents it.
    #[arg(long)]
    from_url: Option<String>,
    #[command(flatten)]
    how: ProbeHow,
}

#[derive(Subcommand)]
enum Command {
    /// Set a site up: primary and backup keys, CSRs, age archives, state.
    #[command(
        after_help = "Examples:\n  pinctl init example.com --san www.example.com   # asks for the passphrase\n  pinctl init example.com --key-type rsa2048 --backup-key-type p384 --backups 3 --recipient age1…"
    )]
    Init {
        /// The site's host name (punycode for IDNs).
        domain: String,
        #[command(flatten)]
        args: SiteArgs,
    },
    /// Adopt a key already in service as `primary`, then make backups as init does.
    #[command(
        after_help = "Examples:\n  pinctl import example.com --key /etc/ssl/private/example.key --cert /etc/ssl/certs/example.pem --from-url https://example.com/\n  pinctl import example.com --key live.key --cert live.pem --served-header 'pin-sha256=\"…\"; pin-sha256=\"…\"; max-age=2592000' --served-since 2030-01-10T00:00:00Z\n\nA deployment that already sends Public-Key-Pins must say so (--served-header or\n--from-url): browsers hold that header for its max-age, and rotations are judged\nagainst it."
    )]
    Import {
        /// The site's host name (lower case; IDNs as punycode).
        domain: String,
        /// The key in service (PEM or DER; PKCS#8, PKCS#1 or SEC1).
        #[arg(long, value_hint = clap::ValueHint::FilePath)]
        key: PathBuf,
        /// Its certificate (or chain, leaf first).
        #[arg(long, value_hint = clap::ValueHint::FilePath)]
        cert: Option<PathBuf>,
        /// The Public-Key-Pins header the servers already send (the value, with or without the field name): recorded as live, since browsers may hold it.
        #[arg(long)]
        served_header: Option<String>,
        /// When that header was first served (RFC 3339; default: now).
        #[arg(long, value_parser = time_arg)]
        served_since: Option<chrono::DateTime<chrono::Utc>>,
        #[command(flatten)]
        probe: ImportProbe,
        #[command(flatten)]
        args: SiteArgs,
    },
    /// Keys, roles, pins, copies, certificates and the live publication.
    #[command(
        after_help = "Examples:\n  pinctl status\n  pinctl status --format json | jq '.sites[].keys[] | {name, safe_from}'"
    )]
    Status {
        /// Output: text for people, json for scripts.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Show or change the desired policy (a new site starts in Report-Only).
    #[command(
        after_help = "Examples:\n  pinctl policy\n  pinctl policy --enforce --max-age 300\n  pinctl policy --max-age 0   # decommission: clients forget the pins"
    )]
    Policy {
        #[command(flatten)]
        args: PolicyArgs,
        /// Output: text for people, json for scripts.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Print the desired header line.
    #[command(after_help = "Examples:\n  pinctl header\n  pinctl header --format json")]
    Header {
        /// Output: text for people, json for scripts.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Record that the desired pinset is published (the header served, a TLSA RRset in the zone, an app release shipped); refuses one that could lock clients out.
    #[command(
        after_help = "Examples:\n  pinctl publish   # right after deploying the header\n  pinctl publish --channel dns   # the TLSA RRset is in the zone\n  pinctl publish --channel android --release 4.1 --from app/src/main/res/xml/network_security_config.xml"
    )]
    Publish {
        /// Record it as served in Report-Only form.
        #[arg(long)]
        report_only: bool,
        /// The channel it was published through (default: web, the header).
        #[arg(long)]
        channel: Option<String>,
        /// App channels: the release that shipped the pinset (e.g. its version; 1 to 200 characters, no control characters).
        #[arg(long)]
        release: Option<String>,
        /// android/trustkit: the pin-set expiration the release carries (YYYY-MM-DD); it must be the shipped file's.
        #[arg(long, value_parser = date_arg)]
        expires: Option<chrono::NaiveDate>,
        /// App channels: the file that shipped in the release (Network Security Config, TrustKit or iOS plist, OkHttp Java or Kotlin source); its pins and expiration are what is recorded.
        #[arg(long, value_hint = clap::ValueHint::FilePath)]
        from: Option<PathBuf>,
        /// Record it although it is refused, because it has shipped or is served already: every later step then counts its clients, and check is CRITICAL while they are locked out.
        #[arg(long)]
        force: bool,
        /// Output: text for people, json for scripts.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Record that the servers now serve a key (the active one): evidence that they moved off the previous key, for sites whose servers send no header (DANE only, apps).
    #[command(
        after_help = "Examples:\n  pinctl deployed backup1                       # the operator's word, now\n  pinctl deployed backup1 --at 2030-04-02T10:00:00Z\n  pinctl deployed backup1 --from-url https://mail.example.com/   # only if the server is seen serving it\n\nA TLSA RRset or an app release is not evidence that servers switched keys\n(RFC 7671 section 8.1 publishes the RRset first); until this, a web publish,\nor a probe says so, pinctl keeps treating the previous key as served."
    )]
    Deployed {
        /// The key now served (default: the active key).
        key: Option<String>,
        /// When the servers started serving it (RFC 3339; default: now). Not with --from-url: a probe shows only now.
        #[arg(long, value_parser = time_arg, conflicts_with = "from_url")]
        at: Option<chrono::DateTime<chrono::Utc>>,
        #[command(flatten)]
        probe: DeployedProbe,
        /// Output: text for people, json for scripts.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Promote a backup key to active; refuses while clients may hold a pinset without it.
    #[command(
        after_help = "Examples:\n  pinctl rotate --promote backup1 --dry-run\n  pinctl rotate --promote backup2 --compromised"
    )]
    Rotate {
        /// The backup to promote.
        #[arg(long)]
        promote: String,
        /// The active key leaked: mark it compromised and drop its pin now.
        #[arg(long)]
        compromised: bool,
        /// Promote even though visitors will be locked out (they are listed).
        #[arg(long)]
        force: bool,
        /// Print what would happen; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Seal the new backups to the recipients now in site.yaml although they differ from those that sealed the existing archives.
        #[arg(long)]
        accept_recipients: bool,
        /// Output: text for people, json for scripts.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// The dated step-by-step plan: what is due next, or a promotion's steps.
    #[command(
        after_help = "Examples:\n  pinctl plan\n  pinctl plan --promote backup1 --format json"
    )]
    Plan {
        /// The steps of promoting this backup instead of what is due next.
        #[arg(long)]
        promote: Option<String>,
        /// Output: text for people, json for scripts.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// The report store: a SQLite file (default: reports.sqlite in the state folder), or a postgres://USER@HOST:PORT/DB URL (or host=… dbname=… string) several collectors share; the password from PGPASSWORD or PGPASSFILE.
        #[arg(long, env = "PINCTL_REPORTS_DATABASE", hide_env_values = true)]
        database: Option<String>,
    },
    /// Everything due or wrong, for reminder jobs (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
    #[command(
        after_help = "Examples:\n  pinctl check\n  pinctl check --warn-days 45 --live --format json\n  PINCTL_NOW=2030-06-01T00:00:00Z pinctl check   # what if"
    )]
    Check {
        /// Warn about certificates that expire within this many days (default: from renew's window, 30 days before expiry or a third of the lifetime when shorter) and pin-sets that expire within it (default 30).
        #[arg(long)]
        warn_days: Option<i64>,
        /// Also fetch every recorded endpoint and compare it with the state, and read each dns channel's RRset from its server.
        #[arg(long)]
        live: bool,
        /// Also list what was checked and is fine.
        #[arg(long, short)]
        verbose: bool,
        /// Output: text for people, json for scripts.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// The report store: a SQLite file (default: reports.sqlite in the state folder), or a postgres://USER@HOST:PORT/DB URL (or host=… dbname=… string) several collectors share; the password from PGPASSWORD or PGPASSFILE.
        #[arg(long, env = "PINCTL_REPORTS_DATABASE", hide_env_values = true)]
        database: Option<String>,
    },
    /// Print a crontab line or systemd units that run `pinctl renew` and `pinctl check` daily.
    #[command(
        after_help = "Examples:\n  pinctl schedule --cron --at 07:30   # add the lines it prints with `crontab -e`\n                                     # (never `| crontab -`: it replaces the whole crontab)\n  pinctl schedule --systemd"
    )]
    Schedule {
        /// Print the crontab lines (add them with `crontab -e`).
        #[arg(long, conflicts_with = "systemd", required_unless_present = "systemd")]
        cron: bool,
        /// Print a systemd service and timer.
        #[arg(long)]
        systemd: bool,
        /// Time of day, HH:MM (24-hour).
        #[arg(long, default_value = "06:00", value_parser = schedule::parse_at)]
        at: (u32, u32),
    },
    /// Fetch a server's chain and pinning header; judge them as a browser would and against the state.
    #[command(
        after_help = "Exit status: 0 all right, 1 problems or failure.\n\nExamples:\n  pinctl verify https://example.com/\n  pinctl verify https://example.com/ --connect 127.0.0.1:8443 --ca-file test-ca.pem"
    )]
    Verify {
        /// The https:// URL to fetch.
        url: String,
        /// Connect to this HOST:PORT instead of the URL's host.
        #[arg(long)]
        connect: Option<String>,
        /// Trust this CA file instead of the built-in roots.
        #[arg(long, value_hint = clap::ValueHint::FilePath, conflicts_with = "insecure")]
        ca_file: Option<PathBuf>,
        /// Do not verify the certificate (the pins are still judged).
        #[arg(long)]
        insecure: bool,
        /// Output: text for people, json for scripts.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// A configuration snippet to paste into a server (Apache, nginx, lighttpd, IIS, Caddy, HAProxy).
    #[command(
        after_help = "Examples:\n  pinctl snippet --server nginx\n  pinctl snippet --channel dns\n  pinctl snippet --channel okhttp --lang java\n  pinctl snippet --server all --report-only\n  pinctl snippet --server apache --header 'pin-sha256=\"…\"; pin-sha256=\"…\"; max-age=600'"
    )]
    Snippet {
        /// The server to write the snippet for, or all of them.
        #[arg(long, value_parser = server_parser(), required_unless_present = "channel", conflicts_with = "channel")]
        server: Option<String>,
        /// A channel's artifact instead: TLSA records, Network Security Config, TrustKit, NSPinnedDomains or OkHttp code.
        #[arg(long, conflicts_with_all = ["report_only", "header"])]
        channel: Option<String>,
        /// With --channel: okhttp kotlin|java (default kotlin); trustkit plist|xml (iOS or TrustKit-Android; default plist).
        #[arg(long, requires = "channel", value_parser = ["kotlin", "java", "plist", "xml"])]
        lang: Option<String>,
        /// With --channel android/trustkit: the pin-set expiration (YYYY-MM-DD) instead of the channel's --expires-after from now.
        #[arg(long, requires = "channel", value_parser = date_arg)]
        expires: Option<chrono::NaiveDate>,
        /// The Report-Only form (Public-Key-Pins-Report-Only).
        #[arg(long)]
        report_only: bool,
        /// Any header value instead of the site's desired header.
        #[arg(long)]
        header: Option<String>,
        /// A folder of templates that replace the embedded ones.
        #[arg(long, value_hint = clap::ValueHint::DirPath)]
        templates: Option<PathBuf>,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = "Example:\n  pinctl completions bash > /etc/bash_completion.d/pinctl")]
    Completions {
        /// The shell to write completions for.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff).
    #[command(after_help = "Example:\n  pinctl manpage > /usr/local/share/man/man1/pinctl.1")]
    Manpage,
    /// Pins of CA certificates (yours or a second CA's), which count in pinsets.
    #[command(
        subcommand,
        after_help = "Examples:\n  pinctl ca-pin add my-intermediate --from intermediate.pem\n  pinctl ca-pin list"
    )]
    CaPin(CaPinCommand),
    /// Draw every channel's publications, how long clients may hold them, the keys' roles and safe-from dates.
    #[command(
        after_help = "Examples:\n  pinctl timeline\n  pinctl timeline --format svg > timeline.svg\n  pinctl timeline --format html > change-1234.html"
    )]
    Timeline {
        /// text: a terminal Gantt chart; svg or html: a picture for a change ticket.
        #[arg(long, value_enum, default_value = "text")]
        format: PictureFormat,
    },
    /// Violation reports: the collector and what it stored.
    #[command(
        subcommand,
        after_help = "Examples:\n  pinctl reports serve\n  pinctl reports summary --since 7d"
    )]
    Reports(ReportsCommand),
    /// Channels besides the header: DANE TLSA records and app pinning (Android, TrustKit, iOS, OkHttp).
    #[command(
        subcommand,
        after_help = "Examples:\n  pinctl channel add dns --ttl 3600\n  pinctl channel list"
    )]
    Channel(ChannelCommand),
    /// Certificates issued for the site's keys.
    #[command(
        subcommand,
        after_help = "Examples:\n  pinctl cert add fullchain.pem\n  pinctl cert issue --http01-webroot /var/www/html"
    )]
    Cert(CertCommand),
    /// The ACME account that `cert issue` and `renew` use.
    #[command(
        subcommand,
        after_help = "Example:\n  pinctl acme account --directory https://acme-v02.api.letsencrypt.org/directory --email ops@example.com"
    )]
    Acme(AcmeCommand),
    /// Renew by ACME what is due: expiring certificates of active keys (same key), promoted keys without one.
    ///
    /// When the account's directory offers renewal information (ARI, RFC
    /// 9773), the CA's window for each certificate decides, asked on every
    /// run, and the new order names the certificate it replaces. Otherwise,
    /// or with --days, or when the CA cannot answer, a certificate is due
    /// when it expires within --days (default 30, or a third of its
    /// lifetime when that is shorter); the output says which window decided.
    /// Each site answers the challenge `cert issue` remembered; sites never
    /// issued by ACME are skipped (renew them by hand). Nothing due: nothing
    /// done, exit 0. Exit 1 if anything failed.
    #[command(
        after_help = "Exit status: 0 everything due was renewed (or nothing was due), 1 a renewal or a hook failed.\n\nExamples:\n  pinctl renew\n  pinctl renew --site example.com --deploy-hook 'systemctl reload nginx'\n\nThe hook runs once per new certificate through `sh -c`, with PINCTL_SITE,\nPINCTL_KEY and PINCTL_CERT (the recorded chain's path) set, and without\nPINCTL_PASSPHRASE, PINCTL_REPORTS_DATABASE or PGPASSWORD."
    )]
    Renew {
        /// Renew certificates that expire within this many days (ignores the CA's window).
        #[arg(long, value_name = "N")]
        days: Option<u32>,
        /// Run this command (through sh -c) after each new certificate.
        #[arg(long, value_name = "CMD")]
        deploy_hook: Option<String>,
        /// Output: text for people, json for scripts.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Private keys.
    #[command(
        subcommand,
        after_help = "Example:\n  pinctl key export primary --out /etc/ssl/private/example.com.key"
    )]
    Key(KeyCommand),
    /// Offline copies of the key archives.
    #[command(
        subcommand,
        after_help = "Examples:\n  pinctl archive copy backup1 --to /media/usb1 --location 'bank safe'\n  pinctl archive verify backup1 --from /media/usb1"
    )]
    Archive(ArchiveCommand),
    /// Print the pin of every key, CSR, public key or certificate in the inputs.
    #[command(
        after_help = "Examples:\n  pinctl pin fullchain.pem\n  openssl s_client -connect example.com:443 -showcerts </dev/null | pinctl pin -\n  pinctl pin --format header primary.csr backup1.csr"
    )]
    Pin {
        /// Files to read (PEM with any number of blocks, or DER); `-` is standard input.
        #[arg(required = true, value_hint = clap::ValueHint::FilePath)]
        files: Vec<PathBuf>,
        /// Output: one line per object, json, a header fragment, or DANE TLSA data.
        #[arg(long, value_enum, default_value = "text")]
        format: PinFormat,
    },
    /// Parse and validate a Public-Key-Pins header line.
    #[command(
        after_help = "Exit status: 0 valid (warnings allowed), 1 invalid.\n\nExamples:\n  pinctl lint 'pin-sha256=\"…\"; pin-sha256=\"…\"; max-age=600'\n  pinctl lint --chain served-chain.pem --host example.com \"$(curl -sI https://example.com | grep -i ^public-key-pins)\""
    )]
    Lint {
        /// The header value, with or without the `Public-Key-Pins:` name.
        header: String,
        /// The chain the server serves (PEM): a pin must match it and a backup must not.
        #[arg(long, value_hint = clap::ValueHint::FilePath)]
        chain: Option<PathBuf>,
        /// The pinned host name, to spot a report-uri that cannot receive reports.
        #[arg(long)]
        host: Option<String>,
        /// Output: text for people, json for scripts.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

/// Parses `args`, runs the command, prints errors, returns the exit code.
/// The clap definition of the whole command line, for tests and tools
/// that walk it (every command's help, completions, the manual page).
pub fn command() -> clap::Command {
    use clap::CommandFactory as _;
    Cli::command()
}

pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = e.exit_code();
            let _ = e.print();
            return code;
        }
    };
    let mut out = Out::stdout();
    let result = dispatch(cli, &mut out);
    out.warnings.extend(crate::secret::take_warnings());
    if result.is_ok() && crate::store::wrote_a_site() {
        out.warnings.extend(commands::clock_ahead_warning());
    }
    let code = finish(result, &out);
    // Warnings on standard error, after the report or the error line.
    use std::io::Write as _;
    let mut stderr = std::io::stderr().lock();
    for w in &out.warnings {
        let _ = writeln!(stderr, "warning: {w}");
    }
    code
}

/// Prints the report (or the error line and its hint) and returns the
/// exit code.
fn finish(result: crate::Result<i32>, out: &Out) -> i32 {
    match result {
        Ok(code) => {
            // A reader that closed the pipe (`pinctl status | head -1`)
            // wanted no more: end quietly, as ripgrep does.
            use std::io::Write as _;
            let mut stdout = std::io::stdout().lock();
            let written = std::iter::once(&out.buf)
                .chain(&out.tail)
                .try_for_each(|part| stdout.write_all(part.as_bytes()));
            match written.and_then(|()| stdout.flush()) {
                Ok(()) => code,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => code,
                Err(e) => {
                    let _ = writeln!(std::io::stderr(), "error: cannot write the output: {e}");
                    1
                }
            }
        }
        Err(e) => {
            use std::io::Write as _;
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "error: {e}");
            if let Some(h) = e.hint() {
                let _ = writeln!(stderr, "hint: {h}");
            }
            1
        }
    }
}

fn site_options(
    domain: String,
    a: SiteArgs,
    key: Option<PathBuf>,
    cert: Option<PathBuf>,
    out: &mut Out,
) -> crate::Result<InitOptions> {
    if let Some(w) = &a.max_age.overflow {
        out.warn(w);
    }
    Ok(InitOptions {
        domain,
        sans: a.sans,
        key_type: a.key_type,
        backup_key_type: a.backup_key_type,
        backups: a.backups,
        max_age: a.max_age.value,
        include_subdomains: a.include_subdomains,
        report_uri: a.report_uri,
        recipients: a.recipients,
        recipients_file: a.recipients_file,
        armor: a.armor,
        import_key: key,
        import_cert: cert,
        served: Default::default(),
    })
}

impl PolicyArgs {
    /// The change the flags ask for; `None` leaves a setting as it is.
    fn into_change(self) -> PolicyChange {
        let pick = |yes: bool, no: bool| match (yes, no) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        };
        let ca_file = self.endpoint_ca_file.as_ref().map(|p| {
            std::path::absolute(p)
                .unwrap_or(p.clone())
                .display()
                .to_string()
        });
        PolicyChange {
            max_age: self.max_age.map(|m| m.value),
            mode: pick(self.enforce, self.report_only).map(|e| {
                if e {
                    Mode::Enforce
                } else {
                    Mode::ReportOnly
                }
            }),
            include_subdomains: pick(self.include_subdomains, self.no_include_subdomains),
            report_uri: if self.no_report_uri {
                Some(None)
            } else {
                self.report_uri.map(Some)
            },
            endpoints: if self.no_endpoints {
                Some(Vec::new())
            } else if self.endpoints.is_empty() {
                None
            } else {
                Some(
                    self.endpoints
                        .into_iter()
                        .map(|url| Endpoint {
                            url,
                            connect: self.connect.clone(),
                            ca_file: ca_file.clone(),
                        })
                        .collect(),
                )
            },
        }
    }
}

/// `--key-type`: one of the types pinctl makes (a usage error otherwise,
/// and shell completion of the names).
fn key_type_parser() -> impl clap::builder::TypedValueParser<Value = KeyType> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(KeyType::ALL.map(KeyType::as_str))
        .try_map(|s| s.parse::<KeyType>().map_err(|e| e.to_string()))
}

/// `--server`: a server pinctl has a template for, or `all`.
fn server_parser() -> clap::builder::PossibleValuesParser {
    let mut names: Vec<&'static str> = crate::snippet::Server::ALL
        .iter()
        .map(|s| s.name())
        .collect();
    names.push("all");
    clap::builder::PossibleValuesParser::new(names)
}

/// A calendar date, exactly YYYY-MM-DD (what Android and TrustKit parse).
fn date_arg(s: &str) -> Result<chrono::NaiveDate, String> {
    let ok = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    ok.then(|| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| format!("{s:?} is not a date of the form YYYY-MM-DD"))
}

/// An instant, in RFC 3339 (as `PINCTL_NOW`).
fn time_arg(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("{s:?} is not an RFC 3339 time such as 2030-04-02T10:00:00Z ({e})"))
}

/// A count or a number of seconds that 0 would make meaningless (a
/// collector that serves no connection, a timeout that has passed
/// before the request starts): refused, not silently raised to 1.
fn at_least_one<T: std::str::FromStr + PartialEq + From<u8>>(s: &str) -> Result<T, String> {
    let v: T = s
        .parse()
        .map_err(|_| format!("{s:?} is not a whole number"))?;
    if v == T::from(0) {
        return Err("0 would refuse everything; give at least 1".into());
    }
    Ok(v)
}

/// `--rate`, `--burst`: a finite number above 0 (0 would answer every
/// report 429).
fn above_zero(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(_) => Err(format!(
            "{s} would refuse every report (429); give a number above 0"
        )),
        Err(_) => Err(format!("{s:?} is not a number")),
    }
}

/// `--trusted-proxy`: an address or a network.
fn trusted_proxy(s: &str) -> Result<crate::reports::client::Cidr, String> {
    crate::reports::client::Cidr::parse(s)
}

/// `--max-age`: delta-seconds as clients read them (an overflow clamps).
fn max_age_arg(s: &str) -> Result<MaxAge, String> {
    crate::header::parse_max_age(s)
}

/// `pinctl completions SHELL`, from the same clap definitions.
fn completions(shell: clap_complete::Shell, out: &mut Out) -> crate::Result<i32> {
    use clap::CommandFactory as _;
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "pinctl", &mut buf);
    out.buf.push_str(&String::from_utf8_lossy(&buf));
    Ok(0)
}

/// `pinctl manpage`, from the same clap definitions.
fn manpage(out: &mut Out) -> crate::Result<i32> {
    use clap::CommandFactory as _;
    let mut buf = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut buf)
        .map_err(|e| crate::Error::Internal(format!("cannot render the manual page: {e}")))?;
    out.buf.push_str(&String::from_utf8_lossy(&buf));
    Ok(0)
}

impl From<PinFormat> for commands::PinFormat {
    fn from(f: PinFormat) -> Self {
        match f {
            PinFormat::Text => commands::PinFormat::Text,
            PinFormat::Json => commands::PinFormat::Json,
            PinFormat::Header => commands::PinFormat::Header,
            PinFormat::Tlsa => commands::PinFormat::Tlsa,
        }
    }
}

fn dispatch(cli: Cli, out: &mut Out) -> crate::Result<i32> {
    let g = Globals {
        state: cli.state,
        site: cli.site,
        passphrase_file: cli.passphrase_file,
    };
    match cli.command {
        Command::Completions { shell } => completions(shell, out),
        Command::Manpage => manpage(out),
        Command::Pin { files, format } => commands::pin(&files, format.into(), out),
        Command::Lint {
            header,
            chain,
            host,
            format,
        } => commands::lint(
            &header,
            chain.as_deref(),
            host.as_deref(),
            format == Format::Json,
            out,
        ),
        Command::Key(c) => key_command(&g, c, out),
        Command::CaPin(c) => ca_pin_command(&g, c, out),
        Command::Channel(c) => channel_command(&g, c, out),
        Command::Reports(c) => reports_command(&g, c, out),
        Command::Cert(CertCommand::Add {
            file,
            force,
            format,
        }) => cert::cert_add(&g.ctx(format)?, &file, force, out),
        Command::Cert(CertCommand::Issue { key, how, format }) => {
            commands::acme::cert_issue(&g.ctx(format)?, key.as_deref(), &how.into(), out)
        }
        Command::Acme(AcmeCommand::Account {
            directory,
            ca_file,
            email,
            eab_kid,
            eab_hmac_file,
            format,
        }) => commands::acme::account(
            &g.ctx(format)?,
            &commands::acme::AccountOptions {
                directory,
                ca_file,
                email,
                eab_kid,
                eab_hmac_file,
            },
            out,
        ),
        Command::Renew {
            days,
            deploy_hook,
            format,
        } => commands::renew::renew(&g.ctx(format)?, days, deploy_hook.as_deref(), out),
        Command::Archive(c) => archive_command(&g, c, out),
        c @ (Command::Init { .. } | Command::Import { .. }) => setup_command(&g, c, out),
        c @ (Command::Publish { .. }
        | Command::Deployed { .. }
        | Command::Rotate { .. }
        | Command::Policy { .. }) => change_command(&g, c, out),
        c => read_command(&g, c, out),
    }
}

/// The global options every state command shares.
struct Globals {
    state: PathBuf,
    site: Option<String>,
    passphrase_file: Option<PathBuf>,
}

impl Globals {
    /// The context of a state command: its `--format` travels in it, and
    /// in nothing else (docs/design.md#crates).
    fn ctx(&self, format: Format) -> crate::Result<Ctx> {
        Ok(Ctx {
            store: Store::new(self.state.clone()),
            site: self.site.clone(),
            now: Ctx::now_from_env()?,
            passphrase_file: self.passphrase_file.clone(),
            json: format == Format::Json,
        })
    }
}

/// `init` and `import`: a site set up.
fn setup_command(g: &Globals, c: Command, out: &mut Out) -> crate::Result<i32> {
    match c {
        Command::Init { domain, args } => {
            let ctx = g.ctx(args.format)?;
            init::init(&ctx, &site_options(domain, args, None, None, out)?, out)
        }
        Command::Import {
            domain,
            key,
            cert,
            served_header,
            served_since,
            probe,
            args,
        } => {
            let format = args.format;
            let mut o = site_options(domain, args, Some(key), cert, out)?;
            let ctx = g.ctx(format)?;
            o.served = init::Served {
                header: served_header,
                since: served_since,
                probe: probe.how.target(probe.from_url),
            };
            init::init(&ctx, &o, out)
        }
        _ => Err(crate::Error::Internal("not a setup command".into())),
    }
}

/// The commands that change a site's policy, publications or keys.
fn change_command(g: &Globals, c: Command, out: &mut Out) -> crate::Result<i32> {
    match c {
        Command::Policy { args, format } => {
            if let Some(w) = args.max_age.as_ref().and_then(|m| m.overflow.as_ref()) {
                out.warn(w);
            }
            policy::policy(&g.ctx(format)?, &args.into_change(), out)
        }
        Command::Publish {
            report_only,
            channel,
            release,
            expires,
            from,
            force,
            format,
        } => {
            if let Some(r) = &release {
                crate::state::check_name(crate::state::NameKind::Release, r)
                    .map_err(|m| crate::Error::Usage(format!("--release: {m}")))?;
            }
            publish::publish(
                &g.ctx(format)?,
                &publish::PublishOptions {
                    report_only,
                    channel,
                    release,
                    expires,
                    from,
                    force,
                },
                out,
            )
        }
        Command::Deployed {
            key,
            at,
            probe,
            format,
        } => deployed::deployed(
            &g.ctx(format)?,
            key.as_deref(),
            at,
            probe.how.target(probe.from_url),
            out,
        ),
        Command::Rotate {
            promote,
            compromised,
            force,
            dry_run,
            accept_recipients,
            format,
        } => rotate::rotate(
            &g.ctx(format)?,
            &rotate::RotateOptions {
                name: promote,
                compromised,
                force,
                dry_run,
                accept_recipients,
            },
            out,
        ),
        _ => Err(crate::Error::Internal("not a change command".into())),
    }
}

/// The commands that read a site and report: status, header, check,
/// plan, schedule, verify, snippet, timeline.
fn read_command(g: &Globals, c: Command, out: &mut Out) -> crate::Result<i32> {
    match c {
        Command::Status { format } => status::status(&g.ctx(format)?, out),
        Command::Header { format } => policy::header(&g.ctx(format)?, out),
        Command::Check {
            warn_days,
            live,
            verbose,
            format,
            database,
        } => check::check(
            &g.ctx(format)?,
            &check::CheckOptions {
                warn_days,
                live,
                verbose,
                database,
            },
            out,
        ),
        Command::Plan {
            promote,
            format,
            database,
        } => plan::plan(
            &g.ctx(format)?,
            promote.as_deref(),
            database.as_deref(),
            out,
        ),
        Command::Schedule {
            cron,
            systemd: _,
            at,
        } => schedule::schedule(&g.ctx(Format::Text)?, cron, at, out),
        Command::Verify {
            url,
            connect,
            ca_file,
            insecure,
            format,
        } => verify::verify(
            &g.ctx(format)?,
            &crate::probe::Target {
                url,
                connect,
                ca_file,
                insecure,
            },
            out,
        ),
        Command::Snippet {
            server,
            channel,
            lang,
            expires,
            report_only,
            header,
            templates,
        } => {
            let ctx = g.ctx(Format::Text)?;
            match (server, channel) {
                (_, Some(c)) => snippet::channel_artifact(
                    &ctx,
                    &c,
                    lang.as_deref().and_then(crate::artifact::Lang::parse),
                    expires,
                    templates.as_deref(),
                    out,
                ),
                (Some(s), None) => snippet::snippet(
                    &ctx,
                    &s,
                    report_only,
                    header.as_deref(),
                    templates.as_deref(),
                    out,
                ),
                (None, None) => Err(crate::Error::Usage(
                    "give --server SERVER or --channel NAME".into(),
                )),
            }
        }
        Command::Timeline { format } => timeline::timeline(
            &g.ctx(Format::Text)?,
            match format {
                PictureFormat::Text => timeline::Picture::Text,
                PictureFormat::Svg => timeline::Picture::Svg,
                PictureFormat::Html => timeline::Picture::Html,
            },
            out,
        ),
        _ => Err(crate::Error::Internal("not a read command".into())),
    }
}

/// `pinctl key …`.
fn key_command(g: &Globals, c: KeyCommand, out: &mut Out) -> crate::Result<i32> {
    match c {
        KeyCommand::Export {
            name,
            out: dest,
            force,
            identity,
            format,
        } => key::key_export(
            &g.ctx(format)?,
            &name,
            &dest,
            force,
            identity.as_deref(),
            out,
        ),
        KeyCommand::Destroy {
            name,
            force,
            format,
        } => key::key_destroy(&g.ctx(format)?, &name, force, out),
    }
}

/// `pinctl ca-pin …`.
fn ca_pin_command(g: &Globals, c: CaPinCommand, out: &mut Out) -> crate::Result<i32> {
    match c {
        CaPinCommand::Add {
            name,
            pin,
            from,
            format,
        } => ca_pin::ca_pin_add(&g.ctx(format)?, &name, pin.as_deref(), from.as_deref(), out),
        CaPinCommand::Remove { name, format } => ca_pin::ca_pin_remove(&g.ctx(format)?, &name, out),
        CaPinCommand::List { format } => ca_pin::ca_pin_list(&g.ctx(format)?, out),
    }
}

/// `pinctl channel …`.
fn channel_command(g: &Globals, c: ChannelCommand, out: &mut Out) -> crate::Result<i32> {
    match c {
        ChannelCommand::Add {
            kind,
            name,
            ttl,
            port,
            expires_after,
            horizon,
            include_subdomains,
            one_label,
            swizzle,
            server,
            tsig_key,
            format,
        } => channel::channel_add(
            &g.ctx(format)?,
            &channel::ChannelOptions {
                kind: kind.into(),
                name,
                ttl,
                port,
                expires_after_days: expires_after,
                horizon_days: horizon,
                include_subdomains,
                one_label,
                swizzle: swizzle.map(|s| s == YesNo::Yes),
                server,
                tsig_key,
            },
            out,
        ),
        ChannelCommand::Set {
            name,
            server,
            tsig_key,
            no_server,
            check_server,
            format,
        } => channel::channel_set(
            &g.ctx(format)?,
            &name,
            &channel::ChannelSet {
                server,
                tsig_key,
                no_server,
                check_servers: check_server,
            },
            out,
        ),
        ChannelCommand::List { format } => channel::channel_list(&g.ctx(format)?, out),
        ChannelCommand::Retire { name, format } => {
            channel::channel_retire(&g.ctx(format)?, &name, out)
        }
    }
}

/// `pinctl reports …`: the collector and what it stored.
fn reports_command(g: &Globals, c: ReportsCommand, out: &mut Out) -> crate::Result<i32> {
    match c {
        ReportsCommand::Serve {
            listen,
            database,
            header_timeout,
            body_timeout,
            max_connections,
            rate,
            burst,
            trusted_proxy,
            tls_cert,
            tls_key,
        } => reports::serve(
            &g.ctx(Format::Text)?,
            &reports::ServeOptions {
                listen,
                database,
                header_timeout,
                body_timeout,
                max_connections,
                rate,
                burst,
                trusted_proxies: trusted_proxy,
                tls: tls_cert.zip(tls_key),
            },
        ),
        ReportsCommand::List {
            since,
            database,
            format,
        } => reports::list(&g.ctx(format)?, since.as_deref(), database.as_deref(), out),
        ReportsCommand::Summary {
            since,
            database,
            format,
        } => reports::summary(&g.ctx(format)?, since.as_deref(), database.as_deref(), out),
        ReportsCommand::Prune {
            older_than,
            database,
        } => reports::prune(&g.ctx(Format::Text)?, &older_than, database.as_deref(), out),
        ReportsCommand::Unit {
            listen,
            user,
            database,
        } => reports::unit(
            &g.ctx(Format::Text)?,
            &listen.to_string(),
            &user,
            database.as_deref(),
            out,
        ),
    }
}

/// `pinctl archive …`.
fn archive_command(g: &Globals, c: ArchiveCommand, out: &mut Out) -> crate::Result<i32> {
    match c {
        ArchiveCommand::Copy {
            name,
            to,
            location,
            format,
        } => archive::archive_copy(&g.ctx(format)?, &name, &to, &location, out),
        ArchiveCommand::Verify {
            name,
            from,
            identity,
            format,
        } => archive::archive_verify(&g.ctx(format)?, &name, &from, identity.as_deref(), out),
    }
}
