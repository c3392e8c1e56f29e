//! The store conformance suite: the cases every backend of the store port
//! must pass ([`cases`] of ingest, [`records`] of what firms and regulators
//! record, [`completeness`] of the telemetry that did and did not arrive, [`dead_letters`] of what is kept of refused messages,
//! [`outbox`] of webhooks, alert deliveries and leadership, [`findings`] of the findings lifecycle,
//! [`inspections`] of the equipment facts and check results of attachment 2, [`truth`]
//! of six months of a simulated fleet against the simulator's ground truth, and the
//! property test in [`properties`]), run here
//! against the PostgreSQL adapter in both of its modes — TimescaleDB
//! hypertable and plain tables — each test in its own throw-away database,
//! and against the embedded SQLite store, each test in its own folder.
//!
//! A new backend implements [`Factory`] and adds one `conformance!` line.
#![allow(clippy::unwrap_used, missing_docs)]

mod cases;
mod completeness;
mod dead_letters;
mod findings;
mod fixtures;
mod inspections;
mod outbox;
mod postgres;
mod properties;
mod records;
mod sqlite;
mod truth;

use std::future::Future;

use liftwatch_store::{EventStore, Store};

/// Opens a fresh, empty, migrated store of one backend (local days in
/// Asia/Shanghai, as the fixtures assume). `Guard` cleans up on drop.
pub trait Factory: Sync {
    /// The store.
    type S: EventStore + Store;
    /// Removes what the store left behind (database, files) when dropped.
    type Guard: Send;
    /// A new store; `tag` names it for whoever inspects a failure.
    fn open(&self, tag: &str) -> impl Future<Output = (Self::S, Self::Guard)> + Send;
}

/// One `#[tokio::test]` per conformance case for a backend.
macro_rules! conformance {
    ($backend:ident, $factory:expr) => {
        mod $backend {
            use super::*;

            #[tokio::test]
            async fn arrivals_and_clearings_before_their_start_never_count() {
                cases::arrivals_and_clearings_before_their_start_never_count(&$factory).await
            }

            #[tokio::test]
            async fn a_fault_stops_service_if_any_report_says_so() {
                cases::a_fault_stops_service_if_any_report_says_so(&$factory).await
            }

            #[tokio::test]
            async fn duplicates_and_reordering() {
                cases::duplicates_and_reordering(&$factory).await
            }

            #[tokio::test]
            async fn concurrent_gateways_on_overlapping_batches_count_once() {
                cases::concurrent_gateways_on_overlapping_batches_count_once(&$factory).await
            }

            #[tokio::test]
            async fn late_events_change_past_windows() {
                cases::late_events_change_past_windows(&$factory).await
            }

            #[tokio::test]
            async fn bad_events_are_dead_lettered_beside_the_good_ones() {
                cases::bad_events_are_dead_lettered_beside_the_good_ones(&$factory).await
            }

            #[tokio::test]
            async fn a_probe_stores_nothing_and_health_answers() {
                cases::a_probe_stores_nothing_and_health_answers(&$factory).await
            }

            #[tokio::test]
            async fn unknown_device_then_registration_then_replay() {
                cases::unknown_device_then_registration_then_replay(&$factory).await
            }

            #[tokio::test]
            async fn a_topic_with_nul_is_dead_lettered_escaped() {
                dead_letters::a_topic_with_nul_is_dead_lettered_escaped(&$factory).await
            }

            #[tokio::test]
            async fn an_oversize_payload_is_kept_truncated_with_its_size() {
                dead_letters::an_oversize_payload_is_kept_truncated_with_its_size(&$factory).await
            }

            #[tokio::test]
            async fn the_same_message_redelivered_is_kept_once() {
                dead_letters::the_same_message_redelivered_is_kept_once(&$factory).await
            }

            #[tokio::test]
            async fn pruning_holds_retention_and_the_size_cap_oldest_first() {
                dead_letters::pruning_holds_retention_and_the_size_cap_oldest_first(&$factory).await
            }

            #[tokio::test]
            async fn membership_history_and_conflicts() {
                cases::membership_history_and_conflicts(&$factory).await
            }

            #[tokio::test]
            async fn every_projects_kpis_at_once_equal_each_projects_answer() {
                cases::every_projects_kpis_at_once_equal_each_projects_answer(&$factory).await
            }

            #[tokio::test]
            async fn a_large_membership_is_registered_and_changed_whole() {
                cases::a_large_membership_is_registered_and_changed_whole(&$factory).await
            }

            #[tokio::test]
            async fn very_long_unknown_codes_are_counted_under_a_cut_key() {
                cases::very_long_unknown_codes_are_counted_under_a_cut_key(&$factory).await
            }

            #[tokio::test]
            async fn cause_correction_changes_project_kpis_at_once_and_keeps_history() {
                records::cause_correction_changes_project_kpis_at_once_and_keeps_history(&$factory).await
            }

            #[tokio::test]
            async fn correction_refusals() {
                records::correction_refusals(&$factory).await
            }

            #[tokio::test]
            async fn arrival_earliest_wins_and_pairs_with_a_later_alarm() {
                records::arrival_earliest_wins_and_pairs_with_a_later_alarm(&$factory).await
            }

            #[tokio::test]
            async fn visits_are_validated_and_listed_by_local_day() {
                records::visits_are_validated_and_listed_by_local_day(&$factory).await
            }

            #[tokio::test]
            async fn reclassification_share_per_firm_over_member_days() {
                records::reclassification_share_per_firm_over_member_days(&$factory).await
            }

            #[tokio::test]
            async fn a_regulator_correction_is_not_the_firms_reclassification_and_stands() {
                records::a_regulator_correction_is_not_the_firms_reclassification_and_stands(&$factory).await
            }

            #[tokio::test]
            async fn regulator_records_crud_and_firm_scoping() {
                records::regulator_records_crud_and_firm_scoping(&$factory).await
            }

            #[tokio::test]
            async fn equipment_facts_are_put_replaced_and_scoped() {
                inspections::equipment_facts_are_put_replaced_and_scoped(&$factory).await
            }

            #[tokio::test]
            async fn check_results_are_recorded_listed_and_scoped() {
                inspections::check_results_are_recorded_listed_and_scoped(&$factory).await
            }

            #[tokio::test]
            async fn inspection_set_by_project_firm_and_city() {
                inspections::inspection_set_by_project_firm_and_city(&$factory).await
            }

            #[tokio::test]
            async fn firm_grades_keep_history_and_the_self_declaration_rule() {
                records::firm_grades_keep_history_and_the_self_declaration_rule(&$factory).await
            }

            #[tokio::test]
            async fn corrections_and_arrivals_concurrent_with_ingest_keep_rollups_exact() {
                records::corrections_and_arrivals_concurrent_with_ingest_keep_rollups_exact(&$factory).await
            }

            #[tokio::test]
            async fn runs_withheld_between_counters_give_the_share() {
                completeness::runs_withheld_between_counters_give_the_share(&$factory).await
            }

            #[tokio::test]
            async fn a_counter_reset_starts_a_new_series() {
                completeness::a_counter_reset_starts_a_new_series(&$factory).await
            }

            #[tokio::test]
            async fn an_elevator_without_counters_is_null_not_complete() {
                completeness::an_elevator_without_counters_is_null_not_complete(&$factory).await
            }

            #[tokio::test]
            async fn runs_arriving_after_the_counter_that_closes_their_span() {
                completeness::runs_arriving_after_the_counter_that_closes_their_span(&$factory).await
            }

            #[tokio::test]
            async fn duplicated_runs_and_counters_count_once() {
                completeness::duplicated_runs_and_counters_count_once(&$factory).await
            }

            #[tokio::test]
            async fn concurrent_runs_and_counters_keep_spans_exact() {
                completeness::concurrent_runs_and_counters_keep_spans_exact(&$factory).await
            }

            #[tokio::test]
            async fn seq_gaps_and_silence() {
                completeness::seq_gaps_and_silence(&$factory).await
            }

            #[tokio::test]
            async fn webhooks_are_kept_per_owner_and_select_events_by_firm_and_action() {
                outbox::webhooks_are_kept_per_owner_and_select_events_by_firm_and_action(&$factory).await
            }

            #[tokio::test]
            async fn deliveries_go_in_order_per_subject_and_retry_at_their_time() {
                outbox::deliveries_go_in_order_per_subject_and_retry_at_their_time(&$factory).await
            }

            #[tokio::test]
            async fn a_lease_keeps_a_delivery_from_others_until_it_expires_and_a_late_completion_is_ignored() {
                outbox::a_lease_keeps_a_delivery_from_others_until_it_expires_and_a_late_completion_is_ignored(
                    &$factory,
                )
                .await
            }

            #[tokio::test]
            async fn concurrent_claims_never_hand_out_a_delivery_twice() {
                outbox::concurrent_claims_never_hand_out_a_delivery_twice(&$factory).await
            }

            #[tokio::test]
            async fn one_leader_per_role_until_its_lease_is_dropped() {
                outbox::one_leader_per_role_until_its_lease_is_dropped(&$factory).await
            }

            #[tokio::test]
            async fn findings_lifecycle_with_alerts_sanctions_acknowledgements_and_notes() {
                findings::findings_lifecycle_with_alerts_sanctions_acknowledgements_and_notes(&$factory).await
            }

            #[tokio::test]
            async fn many_findings_changed_in_one_call_are_each_applied_and_announced_once_in_order() {
                findings::many_findings_changed_in_one_call_are_each_applied_and_announced_once_in_order(&$factory)
                    .await
            }

            #[tokio::test]
            async fn six_months_of_a_simulated_fleet_equal_its_ground_truth() {
                truth::six_months_of_a_simulated_fleet_equal_its_ground_truth(&$factory).await
            }

            #[tokio::test]
            async fn skewed_clocks_and_silent_boxes_equal_their_ground_truth() {
                truth::skewed_clocks_and_silent_boxes_equal_their_ground_truth(&$factory).await
            }

            #[test]
            fn random_streams_match_the_ledger() {
                properties::random_streams_match_the_ledger(&$factory)
            }
        }
    };
}

conformance!(timescaledb, postgres::Pg { timescaledb: true });
conformance!(plain_postgres, postgres::Pg { timescaledb: false });
conformance!(embedded_sqlite, sqlite::Sqlite);
