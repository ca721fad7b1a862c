-- stg_usage_events
-- Grain: one row per product usage event (optional source: zero rows when usage_events.csv is absent).
WITH source AS (
    SELECT * FROM usage_events
)

SELECT
    trim("AccountId")               AS account_id,
    trim("Event")                   AS event_name,
    "OccurredAt"                    AS occurred_at,
    CAST("OccurredAt" AS DATE)      AS occurred_date
FROM source
