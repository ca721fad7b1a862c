-- stg_leads (X Education overlay: pipelines/x_education.yaml reads it instead of sql/staging/stg_leads.sql)
-- Grain: one row per row of X Education's Leads.csv (../shared/realdata/x_education_leads, see SOURCES.md
-- there): an online-education company's leads, with Converted = 1 when the lead became a paying
-- customer. lead_id is the Prospect ID. The columns are those of the shipped stg_leads, so that the
-- shared lead-scoring models run unchanged.
-- Mapping onto the contract (what the export does not have stays NULL):
--   channel          = Lead Source, trimmed, casing unified for the same source (google -> Google,
--                      bing -> Bing); a missing one is 'Unknown'. Rare junk values (testone) stay as
--                      they are: the model gives no weight to a value seen in fewer than 5 leads.
--   country          = Country, with the literal 'unknown' as NULL
--   is_converted, stated_outcome = Converted. The export has no opportunities: the outcome is the
--                      Converted flag itself (stated_outcome), not a won opportunity.
--   created_at       NULL: the export has no dates. The lead is "undated" (int_lead_features): it is
--                      history with a known outcome, and the pipeline's holdout is a hash split of the
--                      key (var holdout_split: hash).
--   company, title, email, status, industry, revenue, employees, conversion ids, MQL/SQL dates: NULL
--                      (persona, revenue_band, employee_band 'unknown', as the shipped stg_leads does)
-- extra_features: the export's other fair columns as scoring tokens, read as words in the reasons:
--   origin (Lead Origin), do_not_email, do_not_call, website_visits (TotalVisits), time_on_website (Total
--   Time Spent on Website, seconds, banded in minutes), pages_per_visit (Page Views Per Visit),
--   specialization, heard_about_us (How did you hear about X Education), occupation (What is your current
--   occupation), what_matters_most (What matters most to you in choosing a course), city, and the yes/no
--   answers: saw_search_ad, saw_magazine_ad, saw_newspaper_article, saw_forum_post, saw_newspaper_ad,
--   saw_digital_ad, came_by_recommendation, wants_course_updates, wants_supply_chain_updates,
--   wants_dm_updates, pays_by_cheque, wants_free_interview_copy. A missing value (empty or the dropdown
--   placeholder `Select`, NULL by the pipeline's null_values) is 'unknown'; the bands have their own
--   'unknown' (137 rows without TotalVisits and Page Views Per Visit).
-- Left out, because they were recorded after the sales team worked the lead and leak the outcome
-- (SOURCES.md): Tags, Lead Quality, Lead Profile, Last Activity, Last Notable Activity and the four
-- Asymmetrique columns. Lead Number is a second key, not a feature.
WITH source AS (
    SELECT * FROM leads
),

renamed AS (
    SELECT
        trim("Prospect ID")                                     AS lead_id,
        CAST(NULL AS TIMESTAMP)                                 AS created_at,
        CAST(NULL AS DATE)                                      AS created_date,
        CAST(NULL AS VARCHAR)                                   AS company,
        CAST(NULL AS VARCHAR)                                   AS title,
        CAST(NULL AS VARCHAR)                                   AS email,
        CASE
            WHEN NULLIF(trim("Lead Source"), '') IS NULL THEN 'Unknown'
            WHEN lower(trim("Lead Source")) = 'google' THEN 'Google'
            WHEN lower(trim("Lead Source")) = 'bing' THEN 'Bing'
            ELSE trim("Lead Source")
        END                                                     AS channel,
        CAST(NULL AS VARCHAR)                                   AS status,
        CAST(NULL AS VARCHAR)                                   AS industry,
        CAST(NULL AS DOUBLE)                                    AS annual_revenue,
        CAST(NULL AS BIGINT)                                    AS number_of_employees,
        CASE WHEN lower(trim("Country")) = 'unknown' THEN NULL
             ELSE NULLIF(trim("Country"), '') END               AS country,
        coalesce("Converted", FALSE)                            AS is_converted,
        CAST(NULL AS DATE)                                      AS converted_date,
        CAST(NULL AS VARCHAR)                                   AS converted_account_id,
        CAST(NULL AS VARCHAR)                                   AS converted_contact_id,
        CAST(NULL AS VARCHAR)                                   AS converted_opportunity_id,
        CAST(NULL AS TIMESTAMP)                                 AS mql_at,
        CAST(NULL AS TIMESTAMP)                                 AS sql_at,
        "Converted"                                             AS stated_outcome,
        "TotalVisits"                                           AS visits,
        "Total Time Spent on Website" / 60.0                    AS minutes_on_website,
        "Page Views Per Visit"                                  AS pages_per_visit,
        source.*
    FROM source
),

answers AS (
    SELECT
        renamed.*,
        CASE
            WHEN visits IS NULL THEN 'unknown'
            WHEN visits <= 5 THEN CAST(CAST(visits AS BIGINT) AS VARCHAR)
            WHEN visits <= 7 THEN '6-7'
            WHEN visits <= 10 THEN '8-10'
            WHEN visits <= 15 THEN '11-15'
            ELSE '16+'
        END                                                     AS visits_band,
        CASE
            WHEN minutes_on_website IS NULL THEN 'unknown'
            WHEN minutes_on_website <= 0 THEN 'none'
            WHEN minutes_on_website <= 1 THEN 'under 1 min'
            WHEN minutes_on_website <= 2 THEN '1-2 min'
            WHEN minutes_on_website <= 3 THEN '2-3 min'
            WHEN minutes_on_website <= 4 THEN '3-4 min'
            WHEN minutes_on_website <= 5 THEN '4-5 min'
            WHEN minutes_on_website <= 7.5 THEN '5-7.5 min'
            WHEN minutes_on_website <= 10 THEN '7.5-10 min'
            WHEN minutes_on_website <= 12.5 THEN '10-12.5 min'
            WHEN minutes_on_website <= 15 THEN '12.5-15 min'
            WHEN minutes_on_website <= 20 THEN '15-20 min'
            WHEN minutes_on_website <= 25 THEN '20-25 min'
            ELSE 'over 25 min'
        END                                                     AS time_band,
        CASE
            WHEN pages_per_visit IS NULL THEN 'unknown'
            WHEN pages_per_visit <= 0 THEN '0'
            WHEN pages_per_visit <= 1 THEN 'up to 1'
            WHEN pages_per_visit <= 1.5 THEN '1-1.5'
            WHEN pages_per_visit <= 2 THEN '1.5-2'
            WHEN pages_per_visit <= 2.5 THEN '2-2.5'
            WHEN pages_per_visit <= 3 THEN '2.5-3'
            WHEN pages_per_visit <= 3.5 THEN '3-3.5'
            WHEN pages_per_visit <= 4 THEN '3.5-4'
            WHEN pages_per_visit <= 5 THEN '4-5'
            WHEN pages_per_visit <= 6 THEN '5-6'
            ELSE 'over 6'
        END                                                     AS pages_band
    FROM renamed
)

SELECT
    lead_id,
    created_at,
    created_date,
    company,
    title,
    email,
    channel,
    status,
    industry,
    annual_revenue,
    number_of_employees,
    country,
    is_converted,
    converted_date,
    converted_account_id,
    converted_contact_id,
    converted_opportunity_id,
    mql_at,
    sql_at,
    stated_outcome,
    make_array(
        'origin=' || coalesce(NULLIF(trim("Lead Origin"), ''), 'unknown'),
        'do_not_email=' || CASE WHEN "Do Not Email" THEN 'yes' WHEN NOT "Do Not Email" THEN 'no' ELSE 'unknown' END,
        'do_not_call=' || CASE WHEN "Do Not Call" THEN 'yes' WHEN NOT "Do Not Call" THEN 'no' ELSE 'unknown' END,
        'website_visits=' || visits_band,
        'time_on_website=' || time_band,
        'pages_per_visit=' || pages_band,
        'specialization=' || coalesce(NULLIF(trim("Specialization"), ''), 'unknown'),
        'heard_about_us=' || coalesce(NULLIF(trim("How did you hear about X Education"), ''), 'unknown'),
        'occupation=' || coalesce(NULLIF(trim("What is your current occupation"), ''), 'unknown'),
        'what_matters_most=' || coalesce(NULLIF(trim("What matters most to you in choosing a course"), ''), 'unknown'),
        'city=' || coalesce(NULLIF(trim("City"), ''), 'unknown'),
        'saw_search_ad=' || CASE WHEN "Search" THEN 'yes' WHEN NOT "Search" THEN 'no' ELSE 'unknown' END,
        'saw_magazine_ad=' || CASE WHEN "Magazine" THEN 'yes' WHEN NOT "Magazine" THEN 'no' ELSE 'unknown' END,
        'saw_newspaper_article=' || CASE WHEN "Newspaper Article" THEN 'yes' WHEN NOT "Newspaper Article" THEN 'no' ELSE 'unknown' END,
        'saw_forum_post=' || CASE WHEN "X Education Forums" THEN 'yes' WHEN NOT "X Education Forums" THEN 'no' ELSE 'unknown' END,
        'saw_newspaper_ad=' || CASE WHEN "Newspaper" THEN 'yes' WHEN NOT "Newspaper" THEN 'no' ELSE 'unknown' END,
        'saw_digital_ad=' || CASE WHEN "Digital Advertisement" THEN 'yes' WHEN NOT "Digital Advertisement" THEN 'no' ELSE 'unknown' END,
        'came_by_recommendation=' || CASE WHEN "Through Recommendations" THEN 'yes' WHEN NOT "Through Recommendations" THEN 'no' ELSE 'unknown' END,
        'wants_course_updates=' || CASE WHEN "Receive More Updates About Our Courses" THEN 'yes' WHEN NOT "Receive More Updates About Our Courses" THEN 'no' ELSE 'unknown' END,
        'wants_supply_chain_updates=' || CASE WHEN "Update me on Supply Chain Content" THEN 'yes' WHEN NOT "Update me on Supply Chain Content" THEN 'no' ELSE 'unknown' END,
        'wants_dm_updates=' || CASE WHEN "Get updates on DM Content" THEN 'yes' WHEN NOT "Get updates on DM Content" THEN 'no' ELSE 'unknown' END,
        'pays_by_cheque=' || CASE WHEN "I agree to pay the amount through cheque" THEN 'yes' WHEN NOT "I agree to pay the amount through cheque" THEN 'no' ELSE 'unknown' END,
        'wants_free_interview_copy=' || CASE WHEN "A free copy of Mastering The Interview" THEN 'yes' WHEN NOT "A free copy of Mastering The Interview" THEN 'no' ELSE 'unknown' END
    )                                                           AS extra_features,
    'unknown'                                                   AS persona,
    'unknown'                                                   AS revenue_band,
    'unknown'                                                   AS employee_band
FROM answers
