-- int_opportunity_stage_entries
-- Grain: opportunity x listed stage: the FIRST time (as of run_date) the opportunity entered each stage
-- of the stage order = var stages (stage_order 1..n), then var won_stage (n + 1).
-- Readings of METRICS.md (tests/fixtures/golden/INTERPRETATIONS.md S1-S4):
--   * the lost stage (var lost_stage) is not in the order and has no row here, but it ends a path:
--     its first entry ends the time in the stage before it (a deal that sat 30 days in Solution and
--     was then lost spent 30 days in Solution). It is never "advanced to".
--   * stages outside the list are left out entirely: neither a row, nor "advanced to", nor the end of
--     a stay (they are reported by the warning test sql/tests/stages_outside_the_list.sql). Entries
--     after a lost entry are kept (a reopened opportunity continues).
--   * next_entered_at: the smallest first-entry time of the other listed stages or of the lost stage
--     that is strictly later than this stage's first entry (whatever their position in the order)
--   * max_stage_order: the furthest stage in the order the opportunity ever entered, at any time
WITH stage_list AS (
    -- the stage order; a name listed twice keeps its first place
    SELECT DISTINCT
        stage_name,
        CAST(array_position(array_append({{ var('stages') }}, {{ var('won_stage') }}), stage_name) AS BIGINT)
            AS stage_order
    FROM (SELECT unnest(array_append({{ var('stages') }}, {{ var('won_stage') }})) AS stage_name) AS listed
),

path_ending_entries AS (
    -- the first entry as of run_date of each listed stage and of the lost stage (which ends a path)
    SELECT
        opportunity_id,
        stage_name,
        min(stage_entered_at) AS first_entered_at
    FROM stg_opportunity_history
    WHERE stage_entered_at < CAST({{ run_date }} AS TIMESTAMP) + INTERVAL '1 day'
      AND opportunity_id IS NOT NULL
      AND stage_name IN ({{ var_list('stages') }}, {{ var('won_stage') }}, {{ var('lost_stage') }})
    GROUP BY opportunity_id, stage_name
),

ordered_entries AS (
    SELECT
        path_ending_entries.opportunity_id,
        path_ending_entries.stage_name,
        path_ending_entries.first_entered_at,
        stage_list.stage_order
    FROM path_ending_entries
    JOIN stage_list
        ON stage_list.stage_name = path_ending_entries.stage_name
),

entry_instants AS (
    -- distinct entry instants per opportunity, so that the next entry is strictly later in time
    SELECT
        opportunity_id,
        first_entered_at,
        lead(first_entered_at) OVER (PARTITION BY opportunity_id ORDER BY first_entered_at) AS next_entered_at
    FROM (SELECT DISTINCT opportunity_id, first_entered_at FROM path_ending_entries) AS instants
)

SELECT
    ordered_entries.opportunity_id,
    ordered_entries.stage_name,
    ordered_entries.stage_order,
    ordered_entries.first_entered_at,
    entry_instants.next_entered_at,
    max(ordered_entries.stage_order) OVER (PARTITION BY ordered_entries.opportunity_id) AS max_stage_order
FROM ordered_entries
JOIN entry_instants
    ON entry_instants.opportunity_id = ordered_entries.opportunity_id
   AND entry_instants.first_entered_at = ordered_entries.first_entered_at
