-- int_leads_as_of
-- Grain: one row per lead created as of run_date (CreatedDate before run_date + 1 day, or undated): the
-- lead as lead scoring reads it (int_lead_features). stg_leads has one row per lead_id (the leads'
-- `primary_key: [Id]` is enforced at load: a lead exported twice keeps its first row, the others are
-- quarantined with the reason), so nothing is de-duplicated here.
--   industry / country    'unknown' when missing
--   is_converted_as_of    IsConverted with ConvertedDate on or before run_date (or no ConvertedDate)
--   features_as_of        the moment int_lead_features reads the lead's features: var
--                         score_feature_days after creation, or run_date (+ 1 day) for younger leads
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
FROM stg_leads
WHERE created_at < CAST({{ run_date }} AS TIMESTAMP) + INTERVAL '1 day'
   OR created_at IS NULL
