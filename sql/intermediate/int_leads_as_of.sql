-- int_leads_as_of
-- Grain: one row per lead created as of run_date (CreatedDate before run_date + 1 day, or undated): the
-- lead as lead scoring reads it (int_lead_features). A lead exported twice is collapsed to its first
-- row (earliest CreatedDate, ties broken by the other columns so that the pick is reproducible).
--   industry / country    'unknown' when missing
--   is_converted_as_of    IsConverted with ConvertedDate on or before run_date (or no ConvertedDate)
--   features_as_of        the moment int_lead_features reads the lead's features: var
--                         score_feature_days after creation, or run_date (+ 1 day) for younger leads
-- A model of its own because int_lead_features joins it four times (campaign touches, BANT answers,
-- outcomes and the facts themselves): the de-duplication runs once here, not once per join.
-- The first row of each lead is found in one sorted pass: with the rows in (lead_id, tie-breakers) order,
-- a row whose previous row belongs to another lead is its lead's first. That is the row
-- row_number() OVER (PARTITION BY lead_id ORDER BY ...) = 1 would pick, but DataFusion evaluates a
-- window with one partition per lead many times slower (its per-partition bookkeeping).
WITH leads_as_of AS (
    SELECT
        lead_id,
        created_at,
        company,
        status,
        email,
        channel,
        industry,
        country,
        persona,
        revenue_band,
        employee_band,
        is_converted,
        converted_date,
        converted_account_id,
        converted_opportunity_id,
        stated_outcome,
        extra_features,
        lag(lead_id) OVER (
            ORDER BY lead_id, created_at, converted_opportunity_id, status, company, email
        ) AS previous_lead_id
    FROM stg_leads
    WHERE created_at < CAST({{ run_date }} AS TIMESTAMP) + INTERVAL '1 day'
       OR created_at IS NULL
)

SELECT
    lead_id,
    created_at,
    CAST(created_at AS DATE)                                AS created_date,
    company,
    status,
    channel,
    coalesce(industry, 'unknown')                           AS industry,
    coalesce(country, 'unknown')                            AS country,
    persona,
    revenue_band,
    employee_band,
    is_converted AND coalesce(converted_date <= {{ run_date }}, TRUE)  AS is_converted_as_of,
    converted_account_id,
    converted_opportunity_id,
    stated_outcome,
    extra_features,
    least(
        created_at + CAST({{ var('score_feature_days') }} || ' days' AS INTERVAL),
        CAST({{ run_date }} AS TIMESTAMP) + INTERVAL '1 day'
    )                                                       AS features_as_of
FROM leads_as_of
WHERE previous_lead_id IS DISTINCT FROM lead_id   -- the lead's first row
