-- severity: warn
-- Singular test (returns the rows that break it): every stage in opportunity_history should be one of
-- the configured stages (var stages, then var won_stage, and var lost_stage). METRICS.md
-- funnel_stage_metrics: "Stages that are not in the list are reported as a warning and left out of
-- the stage rows". A warning, not an error: the stage rows are still right for the listed stages,
-- but an org whose stage names differ from the vars (Prospecting, Negotiation/Review, ...) gets
-- empty or partial stage rows until it sets the vars. One row per unknown stage name, with the
-- number of stage changes (history rows as of run_date) and opportunities that have it.
SELECT
    stage_name,
    count(*)                        AS history_rows,
    count(DISTINCT opportunity_id)  AS opportunities
FROM stg_opportunity_history
WHERE stage_entered_at < CAST({{ run_date }} AS TIMESTAMP) + INTERVAL '1 day'
  AND opportunity_id IS NOT NULL
  AND array_position(
          array_append(array_append({{ var('stages') }}, {{ var('won_stage') }}), {{ var('lost_stage') }}),
          stage_name
      ) IS NULL
GROUP BY stage_name
ORDER BY history_rows DESC, stage_name
