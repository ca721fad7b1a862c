-- int_lead_features
-- Grain: one row per lead created as of run_date (int_leads_as_of: one row per lead_id): what lead
-- scoring knows about it, and, for leads old enough, how it turned out.
-- Columns:
--   account_id       the converted account (ConvertedAccountId) when the lead converted as of run_date
--   is_open          not converted as of run_date and Status is not Disqualified (METRICS.md lead_scores)
--   features_as_of   the moment the features are read: var score_feature_days after creation, or
--                    run_date (+ 1 day) for younger leads. Campaign touches and BANT answers recorded
--                    later are not used, so a historical lead is described as it looked when it was
--                    new, like the open leads being scored (no leakage from what happened next).
--   features         one-hot tokens `key=value` for logistic_fit / logistic_score; the keys read as
--                    words in the reasons text (`authority=economic_buyer` -> "Authority: economic buyer"):
--                    industry, revenue (band), employees (band), persona, country, channel,
--                    campaign_touches (0, 1, 2, 3+) and campaign_responses (0, 1, 2+) before
--                    features_as_of, and the BANT answers latest before features_as_of: need, budget
--                    (stated budget relative to the typical won deal of the lead's size band,
--                    int_typical_deal_size), authority, timeline (days to decision, banded),
--                    product_interest, self_service (willing / not willing). A lead without answers gets
--                    the single token `BANT_answers=none` instead of the six BANT tokens; a question
--                    left blank in an answered form is `not_stated`. Then stg_leads.extra_features: more
--                    tokens a project's own staging model adds (empty in the shipped stg_leads; e.g. the
--                    X Education pipeline adds its web-activity bands and form answers there).
--   outcome          the lead's opportunity (ConvertedOpportunityId, created as of run_date) is won as
--                    of run_date with CloseDate within var outcome_window_days of the lead's CreatedDate;
--                    or, when the lead source states the outcome itself (stg_leads.stated_outcome, NULL in
--                    the shipped stg_leads; a lead export without opportunities, e.g. X Education's
--                    Converted flag), that
--   outcome_known    CreatedDate + var outcome_window_days <= run_date: the window has closed. An undated
--                    lead (created_at NULL: an export without dates) is history when its outcome is stated
--   sample           'train' / 'holdout' for outcome-known leads, NULL otherwise. var holdout_split:
--                    'time' (default, METRICS.md time-based holdout: the holdout is the last var
--                    holdout_days days of creation dates with a known outcome, i.e. created after
--                    run_date - outcome_window_days - holdout_days); 'hash' (for data without dates: a
--                    deterministic split of the key, the holdout is the leads whose md5(lead_id), read as
--                    a 32-bit number from its first 8 hex digits, is below var holdout_share of 2^32)
--   years_before_run (run_date - CreatedDate) in years of 365.25 days, NULL for undated leads: the time
--                    axis of the calibration trend (int_lead_score_models)
--   typical_acv      the typical won deal of the lead's size (int_typical_deal_size): the scale of the
--                    budget token, and the expected ACV of lead_scores' route. It is taken from all won
--                    deals as of run_date, also for historical leads: a per-size constant, not a label.
-- Never used as features (known only after the lead was new, or a consequence of the outcome): Status,
-- MQL/SQL dates, conversion fields, opportunity data.
WITH leads AS (
    -- one row per lead created as of run_date, with its features_as_of (int_leads_as_of)
    SELECT * FROM int_leads_as_of
),

all_sizes_deal AS (
    SELECT typical_acv FROM int_typical_deal_size WHERE employee_band = 'ALL'
),

outcomes AS (
    SELECT
        leads.lead_id,
        coalesce(
            opportunity.is_won_as_of
            AND opportunity.close_date
                <= leads.created_date + CAST({{ var('outcome_window_days') }} || ' days' AS INTERVAL),
            FALSE
        ) AS outcome
    FROM leads
    JOIN int_opportunities AS opportunity
        ON opportunity.opportunity_id = leads.converted_opportunity_id
       AND opportunity.is_created_as_of
),

facts AS (
    SELECT
        leads.*,
        coalesce(campaign_touches.touches, 0)                       AS touches,
        coalesce(campaign_touches.responses, 0)                     AS responses,
        answers.lead_id IS NOT NULL                                 AS has_answers,
        answers.need,
        answers.budget_usd,
        answers.authority,
        answers.timeline_days,
        answers.product_interest,
        answers.self_service_ok,
        coalesce(size_deal.typical_acv, all_sizes_deal.typical_acv) AS typical_acv,
        coalesce(leads.stated_outcome, outcomes.outcome, FALSE)     AS outcome,
        CASE
            WHEN leads.created_date IS NULL THEN leads.stated_outcome IS NOT NULL
            ELSE leads.created_date + CAST({{ var('outcome_window_days') }} || ' days' AS INTERVAL)
                 <= {{ run_date }}
        END                                                         AS outcome_known
    FROM leads
    LEFT JOIN int_lead_campaign_touches AS campaign_touches
        ON campaign_touches.lead_id = leads.lead_id
    LEFT JOIN int_lead_answers AS answers
        ON answers.lead_id = leads.lead_id
    LEFT JOIN int_typical_deal_size AS size_deal
        ON size_deal.employee_band = leads.employee_band
    CROSS JOIN all_sizes_deal
    LEFT JOIN outcomes
        ON outcomes.lead_id = leads.lead_id
),

tokens AS (
    SELECT
        facts.*,
        make_array(
            'industry=' || industry,
            'revenue=' || revenue_band,
            'employees=' || employee_band,
            'persona=' || persona,
            'country=' || country,
            'channel=' || channel,
            'campaign_touches=' || CASE WHEN touches >= 3 THEN '3+' ELSE CAST(touches AS VARCHAR) END,
            'campaign_responses=' || CASE WHEN responses >= 2 THEN '2+' ELSE CAST(responses AS VARCHAR) END
        ) AS profile_tokens,
        CASE WHEN has_answers THEN make_array(
            'need=' || coalesce(need, 'not_stated'),
            'budget=' || CASE
                WHEN budget_usd IS NULL OR typical_acv IS NULL   THEN 'not_stated'
                WHEN budget_usd < 0.5 * typical_acv              THEN 'under_half_a_typical_deal'
                WHEN budget_usd < typical_acv                    THEN 'half_to_one_typical_deal'
                WHEN budget_usd < 2 * typical_acv                THEN 'one_to_two_typical_deals'
                ELSE 'over_two_typical_deals'
            END,
            'authority=' || coalesce(authority, 'not_stated'),
            'timeline=' || CASE
                WHEN timeline_days IS NULL  THEN 'not_stated'
                WHEN timeline_days <= 30    THEN 'within_30_days'
                WHEN timeline_days <= 60    THEN '31_to_60_days'
                WHEN timeline_days <= 90    THEN '61_to_90_days'
                WHEN timeline_days <= 180   THEN '91_to_180_days'
                ELSE 'over_180_days'
            END,
            'product_interest=' || coalesce(product_interest, 'not_stated'),
            'self_service=' || CASE
                WHEN self_service_ok THEN 'willing'
                WHEN NOT self_service_ok THEN 'not_willing'
                ELSE 'not_stated'
            END
        ) ELSE make_array('BANT_answers=none') END AS answer_tokens
    FROM facts
)

SELECT
    lead_id,
    CASE WHEN is_converted_as_of THEN converted_account_id END      AS account_id,
    company,
    created_at,
    created_date,
    status,
    channel,
    employee_band,
    NOT is_converted_as_of AND coalesce(status, '') <> 'Disqualified' AS is_open,
    features_as_of,
    has_answers,
    typical_acv,
    array_concat(profile_tokens, answer_tokens, extra_features)     AS features,
    outcome,
    outcome_known,
    CASE
        WHEN NOT outcome_known THEN NULL
        WHEN {{ var('holdout_split') }} = 'hash' THEN
            CASE
                WHEN substr(md5(lead_id), 1, 8)
                     < lpad(to_hex(CAST(floor({{ var('holdout_share') }} * 4294967296.0) AS BIGINT)), 8, '0')
                    THEN 'holdout'
                ELSE 'train'
            END
        WHEN created_date + CAST(({{ var('outcome_window_days') }} + {{ var('holdout_days') }}) || ' days' AS INTERVAL)
             > {{ run_date }} THEN 'holdout'
        ELSE 'train'
    END                                                             AS sample,
    (date_part('epoch', CAST({{ run_date }} AS TIMESTAMP)) - date_part('epoch', created_at))
        / (86400.0 * 365.25)                                        AS years_before_run
FROM tokens
