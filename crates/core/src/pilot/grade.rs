//! Firm grades and the pilot: the self-declaration rule (N §III.(三).2) and
//! the grade condition of entry (A1 §I.(一)).

use crate::registry::GradeLetter;
use crate::validation::ValidationError;

/// First year in which a firm without a published self-declaration and
/// service commitment cannot be graded B or better (N §III.(三).2: "从2021年起").
pub const SELF_DECLARATION_RULE_FROM: i32 = 2021;

/// N §III.(三).2: from 2021, a firm that has not published its
/// self-declaration (自我声明) and service commitment cannot be graded B or
/// better.
///
/// `year` is the year graded; `None` means the firm's current grade, to
/// which the rule applies (the system runs after 2021). `self_declared` is
/// whether the declaration was published; `None` (not recorded) passes, so
/// that old grades can be entered without inventing the fact. `field` is the
/// field to blame: `self_declaration_url` for a firm, `grade` for a yearly
/// grade record.
///
/// The one place of this rule: the firm route, the registry store and the
/// grade records all call it.
pub fn check_self_declaration(
    field: &str,
    grade: GradeLetter,
    year: Option<i32>,
    self_declared: Option<bool>,
) -> Result<(), ValidationError> {
    let applies = year.is_none_or(|y| y >= SELF_DECLARATION_RULE_FROM);
    if !applies || !grade.is_b_or_better() || self_declared != Some(false) {
        return Ok(());
    }
    let which = year.map_or_else(String::new, |y| format!(" for {y}"));
    Err(ValidationError::new(
        field,
        format!(
            "grade {grade}{which} needs the firm's published self-declaration: from {SELF_DECLARATION_RULE_FROM} a \
             firm that has not published its self-declaration and service commitment cannot be graded B or better \
             (N §III.(三).2)"
        ),
    ))
}

/// A1 §I.(一): a project may enter the pilot only if its firm was not graded
/// C or lower in the previous year's classification (A or B). A firm whose
/// grade dropped to C no longer meets the entry conditions (A1 §IV.(一).4).
pub fn grade_allows_entry(previous_year: GradeLetter) -> bool {
    previous_year.is_b_or_better()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_and_b_need_the_declaration_from_2021() {
        use GradeLetter::*;
        for g in [A, B] {
            assert!(check_self_declaration("grade", g, Some(2021), Some(false)).is_err(), "{g} in the first year");
            assert!(check_self_declaration("grade", g, Some(2020), Some(false)).is_ok(), "{g} the year before");
            assert!(check_self_declaration("grade", g, Some(2025), Some(true)).is_ok());
            assert!(check_self_declaration("grade", g, Some(2025), None).is_ok(), "not recorded");
            assert!(check_self_declaration("self_declaration_url", g, None, Some(false)).is_err(), "current grade");
        }
        for g in [C, D] {
            assert!(check_self_declaration("grade", g, Some(2025), Some(false)).is_ok());
            assert!(check_self_declaration("grade", g, None, Some(false)).is_ok());
        }
    }

    #[test]
    fn the_refusal_blames_the_given_field_and_cites_the_clause() {
        let e = check_self_declaration("grade", GradeLetter::B, Some(2024), Some(false)).unwrap_err();
        assert_eq!(e.field, "grade");
        assert!(e.problem.starts_with("grade B for 2024 needs"), "{e}");
        assert!(e.problem.ends_with("(N §III.(三).2)"), "{e}");
        let e = check_self_declaration("self_declaration_url", GradeLetter::A, None, Some(false)).unwrap_err();
        assert!(e.to_string().starts_with("field `self_declaration_url`: grade A needs"), "{e}");
    }

    #[test]
    fn entry_needs_a_or_b() {
        assert!(grade_allows_entry(GradeLetter::A) && grade_allows_entry(GradeLetter::B));
        assert!(!grade_allows_entry(GradeLetter::C) && !grade_allows_entry(GradeLetter::D));
    }
}
