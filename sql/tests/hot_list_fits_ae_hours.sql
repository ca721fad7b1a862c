-- Singular test: the hot list stops where the AE team's hours in the horizon run out
-- (METRICS.md hot_list), and its ranks run 1, 2, 3, ... without gaps or ties.
WITH ranked AS (
    SELECT
        rank,
        account_id,
        cumulative_ae_hours,
        ae_available_hours,
        row_number() OVER (ORDER BY rank) AS position
    FROM hot_list
)

SELECT rank, account_id, cumulative_ae_hours, ae_available_hours
FROM ranked
WHERE cumulative_ae_hours > ae_available_hours
   OR rank <> position
