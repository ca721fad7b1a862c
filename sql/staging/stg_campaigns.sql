-- stg_campaigns
-- Grain: one row per Salesforce Campaign: channel = Campaign.Type (Webinar, Paid Search, ...).
WITH source AS (
    SELECT * FROM campaigns
)

SELECT
    trim("Id")                  AS campaign_id,
    trim("Name")                AS campaign_name,
    NULLIF(trim("Type"), '')    AS channel,
    "StartDate"                 AS start_date,
    "EndDate"                   AS end_date,
    "ActualCost"                AS actual_cost
FROM source
