//! The fault-code table of protocol v1, with the GB/T 24476 numeric codes,
//! default causes and grades.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Who or what caused a fault. Only `equipment` (设备本体原因) counts in the
/// fault rate and in downtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub enum Cause {
    /// 设备本体原因: the elevator itself.
    Equipment,
    /// 外部原因: power grid, fire, flooding, vandalism.
    External,
    /// 使用不当: passengers' misuse.
    Usage,
    /// Not yet assessed.
    Unknown,
}

impl Cause {
    /// All causes, in a fixed order.
    pub const ALL: [Cause; 4] = [Cause::Equipment, Cause::External, Cause::Usage, Cause::Unknown];
    /// The protocol spellings.
    pub const NAMES: &'static [&'static str] = &["equipment", "external", "usage", "unknown"];

    /// The protocol spelling.
    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// Parses a protocol spelling.
    pub fn parse(s: &str) -> Option<Cause> {
        Self::NAMES.iter().position(|n| *n == s).map(|i| Self::ALL[i])
    }
}

impl std::str::FromStr for Cause {
    type Err = crate::validation::UnknownValue;

    /// Parses a protocol spelling; the error lists the accepted ones.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cause::parse(s).ok_or_else(|| crate::validation::UnknownValue {
            what: "cause",
            value: s.to_owned(),
            allowed: Self::NAMES,
        })
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Fault grade: drives the repair deadline (1 is the most urgent).
pub type Grade = u8;

/// One row of the fault-code table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultSpec {
    /// Protocol name, e.g. `door_close_fault`.
    pub name: &'static str,
    /// GB/T 24476 number, when the standard has one.
    pub gbt: Option<u8>,
    /// Chinese name.
    pub zh: &'static str,
    /// Cause assumed when the box does not send one.
    pub default_cause: Cause,
    /// Grade (1–3).
    pub grade: Grade,
}

const fn spec(name: &'static str, gbt: Option<u8>, zh: &'static str, default_cause: Cause, grade: Grade) -> FaultSpec {
    FaultSpec { name, gbt, zh, default_cause, grade }
}

/// The table of protocol v1, in its order.
pub const FAULT_TABLE: &[FaultSpec] = &[
    spec("safety_circuit_open", Some(1), "运行中安全回路断路", Cause::Equipment, 1),
    spec("door_close_fault", Some(2), "关门故障", Cause::Equipment, 2),
    spec("door_open_fault", Some(3), "开门故障", Cause::Equipment, 2),
    spec("stopped_outside_door_zone", Some(4), "轿厢在开锁区域外停止", Cause::Equipment, 1),
    spec("unintended_car_movement", Some(5), "轿厢意外移动 / 开门走车", Cause::Equipment, 1),
    spec("motor_runtime_limiter", Some(6), "电动机运转时间限制器动作", Cause::Equipment, 2),
    spec("floor_position_lost", Some(7), "楼层位置丢失", Cause::Equipment, 2),
    spec("restart_prevented", Some(8), "防止电梯再运行故障", Cause::Equipment, 2),
    spec("overtravel_top", Some(9), "冲顶", Cause::Equipment, 1),
    spec("overtravel_bottom", Some(10), "蹲底", Cause::Equipment, 1),
    spec("overspeed", None, "超速", Cause::Equipment, 1),
    spec("brake_fault", None, "制动器故障", Cause::Equipment, 1),
    spec("door_lock_circuit_open", None, "门锁回路断路", Cause::Equipment, 1),
    spec("leveling_fault", None, "平层精度超差", Cause::Equipment, 3),
    spec("controller_fault", None, "控制系统故障", Cause::Equipment, 2),
    spec("power_failure", Some(41), "主电源断电 / 停电", Cause::External, 2),
    spec("other", None, "其他", Cause::Unknown, 3),
];

/// Grade of a code that is not in the table.
pub const UNKNOWN_CODE_GRADE: Grade = 3;

/// A fault code as normalised by the platform: a row of the table, or a code
/// the table does not know (kept verbatim, grade 3, cause `unknown`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultCode {
    /// Index into [`FAULT_TABLE`].
    Known(u8),
    /// Not in the table; accepted and stored as sent.
    Other(Box<str>),
}

impl FaultCode {
    /// Normalises a code as sent by a box: a table name, or its GB/T 24476
    /// number as a string (`"02"`, also `"2"`). Anything else is `Other`.
    pub fn parse(s: &str) -> FaultCode {
        if let Some(i) = FAULT_TABLE.iter().position(|f| f.name == s) {
            return FaultCode::Known(i as u8);
        }
        if !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(n) = s.parse::<u8>() {
                if let Some(i) = FAULT_TABLE.iter().position(|f| f.gbt == Some(n)) {
                    return FaultCode::Known(i as u8);
                }
            }
        }
        FaultCode::Other(s.into())
    }

    /// The table row, if known.
    pub fn spec(&self) -> Option<&'static FaultSpec> {
        match self {
            FaultCode::Known(i) => FAULT_TABLE.get(*i as usize),
            FaultCode::Other(_) => None,
        }
    }

    /// The canonical name (table name, or the unknown code as sent).
    pub fn as_str(&self) -> &str {
        match self {
            FaultCode::Known(i) => FAULT_TABLE.get(*i as usize).map_or("other", |f| f.name),
            FaultCode::Other(s) => s,
        }
    }

    /// Cause assumed when the box sends none.
    pub fn default_cause(&self) -> Cause {
        self.spec().map_or(Cause::Unknown, |f| f.default_cause)
    }

    /// Grade (1–3); 3 for unknown codes.
    pub fn grade(&self) -> Grade {
        self.spec().map_or(UNKNOWN_CODE_GRADE, |f| f.grade)
    }
}

impl fmt::Display for FaultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for FaultCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FaultCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(FaultCode::parse(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_mean_the_same_fault() {
        assert_eq!(FaultCode::parse("02"), FaultCode::parse("door_close_fault"));
        assert_eq!(FaultCode::parse("2"), FaultCode::parse("door_close_fault"));
        assert_eq!(FaultCode::parse("41").as_str(), "power_failure");
        assert_eq!(FaultCode::parse("10").as_str(), "overtravel_bottom");
        for f in FAULT_TABLE {
            assert_eq!(FaultCode::parse(f.name).as_str(), f.name);
            if let Some(n) = f.gbt {
                assert_eq!(FaultCode::parse(&format!("{n:02}")).as_str(), f.name);
            }
        }
    }

    #[test]
    fn defaults_follow_the_table() {
        assert_eq!(FaultCode::parse("power_failure").default_cause(), Cause::External);
        assert_eq!(FaultCode::parse("power_failure").grade(), 2);
        assert_eq!(FaultCode::parse("other").default_cause(), Cause::Unknown);
        assert_eq!(FaultCode::parse("safety_circuit_open").grade(), 1);
        assert_eq!(FaultCode::parse("leveling_fault").grade(), 3);
    }

    #[test]
    fn unknown_codes_are_kept_with_grade_3_and_cause_unknown() {
        let c = FaultCode::parse("E-CUSTOM-17");
        assert_eq!(c, FaultCode::Other("E-CUSTOM-17".into()));
        assert_eq!(c.grade(), 3);
        assert_eq!(c.default_cause(), Cause::Unknown);
        // A GB/T number the table does not list is an unknown code too.
        assert_eq!(FaultCode::parse("99"), FaultCode::Other("99".into()));
    }
}
