//! What a caller passes in: the mode and its settings, and one send
//! ([`Request`]) with its channel, IP flags and risk tier.

/// How hard the detector pushes (Twilio's Fraud Guard levels, plus off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Off,
    Basic,
    Standard,
    Max,
}

impl Mode {
    pub fn parse(text: &str) -> Option<Mode> {
        Some(match text {
            "off" => Mode::Off,
            "basic" => Mode::Basic,
            "standard" => Mode::Standard,
            "max" => Mode::Max,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Basic => "basic",
            Mode::Standard => "standard",
            Mode::Max => "max",
        }
    }
}

/// Tuning, derived from the mode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Density: ln of the Poisson tail probability below which a range is
    /// anomalous (-20 ≈ 2e-9).
    pub density_ln_p: f64,
    /// Density: fewest distinct recent numbers that can make an anomaly.
    pub density_min: f64,
    /// A send counts as unverified once this old (seconds).
    pub mature_after: f64,
    /// Range conversion: matured unverified sends a range needs first.
    pub min_failures: f64,
    /// Range conversion: ln of the binomial tail probability that trips it.
    pub conversion_ln_p: f64,
    /// Country conversion: z-score of the drop below baseline that flags it.
    pub country_z: f64,
    /// Country conversion: posterior odds of pumping that refuse a request.
    pub score_odds: f64,
    /// Unverified sends allowed to a country without verified history (at
    /// the reference price, see
    /// [`NOVELTY_REFERENCE_MICROS`](crate::NOVELTY_REFERENCE_MICROS)).
    pub new_country_budget: f64,
    /// How long a block lasts without new attempts (seconds).
    pub block_ttl: f64,
    /// Sweep: numbers never verified, within
    /// [`SWEEP_SPREAD`](crate::SWEEP_SPREAD) of each other and
    /// [`SWEEP_WINDOW`](crate::SWEEP_WINDOW) seconds, that refuse their
    /// 100-number block (0 turns the rule off).
    pub sweep_numbers: usize,
    /// Whether a voice call to a number never verified is refused when it
    /// comes from a datacenter or Tor IP with no device fingerprint.
    pub refuse_hosted_calls: bool,
    /// Whether an IP many users verified from lowers a request's risk
    /// (and a known IP few verified from raises it).
    pub popular_ip: bool,
}

impl Settings {
    pub fn for_mode(mode: Mode) -> Settings {
        let standard = Settings {
            density_ln_p: -20.0,
            density_min: 3.0,
            mature_after: 300.0,
            min_failures: 10.0,
            conversion_ln_p: -20.0,
            country_z: 4.0,
            score_odds: 4.0,
            new_country_budget: 5.0,
            block_ttl: 3600.0,
            // Measured on the simulator (docs/benchmarks-history.md, round 3):
            // sequential bursts are contained at their 3rd send, no legitimate
            // send more is refused.
            sweep_numbers: 3,
            refuse_hosted_calls: true,
            // Off: on the simulator it lowered fraud-cost recall (round 3).
            popular_ip: false,
        };
        match mode {
            Mode::Off | Mode::Standard => standard,
            Mode::Basic => Settings {
                density_ln_p: -28.0,
                density_min: 4.0,
                min_failures: 20.0,
                conversion_ln_p: -28.0,
                country_z: 6.0,
                score_odds: 49.0,
                new_country_budget: 10.0,
                sweep_numbers: 4,
                refuse_hosted_calls: false,
                ..standard
            },
            Mode::Max => Settings {
                density_ln_p: -14.0,
                density_min: 3.0,
                min_failures: 6.0,
                conversion_ln_p: -14.0,
                country_z: 3.0,
                score_odds: 3.0,
                new_country_budget: 3.0,
                ..standard
            },
        }
    }
}

/// SMS or voice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Channel {
    #[default]
    Sms,
    Call,
}

/// IP intelligence flags of the end user's IP (`DeviceIp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct IpFlags(u8);

impl IpFlags {
    pub const NONE: IpFlags = IpFlags(0);
    pub const DATACENTER: IpFlags = IpFlags(1);
    pub const PROXY: IpFlags = IpFlags(2);
    pub const TOR: IpFlags = IpFlags(4);

    /// From names (`datacenter`, `proxy`, `tor`; others are ignored).
    pub fn from_names<'n>(names: impl IntoIterator<Item = &'n str>) -> IpFlags {
        let mut f = IpFlags::NONE;
        for n in names {
            f = f.with(match n {
                "datacenter" => IpFlags::DATACENTER,
                "proxy" => IpFlags::PROXY,
                "tor" => IpFlags::TOR,
                _ => IpFlags::NONE,
            });
        }
        f
    }

    pub fn with(self, other: IpFlags) -> IpFlags {
        IpFlags(self.0 | other.0)
    }

    pub fn contains(self, other: IpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The flags set in both.
    pub(crate) fn intersection(self, other: IpFlags) -> IpFlags {
        IpFlags(self.0 & other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn names(self) -> Vec<&'static str> {
        [
            (IpFlags::DATACENTER, "datacenter"),
            (IpFlags::PROXY, "proxy"),
            (IpFlags::TOR, "tor"),
        ]
        .into_iter()
        .filter(|(f, _)| self.contains(*f))
        .map(|(_, n)| n)
        .collect()
    }
}

/// The number's risk tier (Twilio's voice dialing-permission classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Risk {
    #[default]
    Standard,
    HighRiskSpecial,
    HighRiskTollfraud,
}

/// One send to decide on.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    /// Seconds (any epoch; only differences matter).
    pub t: f64,
    pub id: &'a str,
    /// E.164 digits without `+`.
    pub digits: &'a str,
    /// The calling code's digits (its length splits country and national number).
    pub calling_code: &'a str,
    pub valid: bool,
    pub channel: Channel,
    /// The end user's IP (`DeviceIp`), when given.
    pub ip: Option<&'a str>,
    pub ip_flags: IpFlags,
    /// A device or browser fingerprint, when given.
    pub device: Option<&'a str>,
    /// What this send costs, in micro-USD; 0 when unknown.
    pub price_micros: i64,
    /// The number's risk tier (default standard).
    pub risk: Risk,
}
