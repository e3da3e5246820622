-- credit_profile v2 (issue 18) adds patents, patent pledges and ip_pledge. A profile
-- stored from a v1 message (by a sink from before v2, or read again from the compacted
-- profiles topic, where an enterprise that has not changed since keeps its v1 message)
-- has none of them. profile_v2 adds them as the v2 worker renders that enterprise: a v1
-- profile knows no patent, and its ip_pledge is what its trademarks and their active
-- pledges say (streams/core/patents.py ip_pledge: the same rules, from the same fields).
-- The sink writes every row through it (sink/writer.py), this migration upgrades the
-- rows already stored: forward, without a rebuild; a v2 profile passes unchanged.
create function profile_v2(p jsonb) returns jsonb
language sql immutable parallel safe as $$
    select case when p ? 'patents' then p else p || jsonb_build_object(
        'patents', '[]'::jsonb,
        'invention_patent_count', 0,
        'utility_model_patent_count', 0,
        'design_patent_count', 0,
        'active_patent_pledge_count', 0,
        'patent_pledged_amount', '0.00',
        'ip_pledge', case
            when jsonb_array_length(p->'trademarks') = 0
                 and (p->>'active_pledge_count')::int = 0 then 'null'::jsonb
            else jsonb_build_object(
                'active_pledge_count', p->'active_pledge_count',
                'secured_amount', p->'pledged_amount',
                -- marks shown registered, in their term, with no active pledge; in the
                -- profile's order (by registration number)
                'pledgeable_trademarks', coalesce((
                    select jsonb_agg(t.mark->'registration_no' order by t.n)
                    from jsonb_array_elements(p->'trademarks') with ordinality as t(mark, n)
                    where t.mark->>'status' = 'REGISTERED'
                      and (t.mark->>'valid_until' is null
                           or t.mark->>'valid_until' >= p->>'as_of')
                      and jsonb_array_length(t.mark->'pledges') = 0
                ), '[]'::jsonb),
                'pledgeable_patents', '[]'::jsonb)
        end)
    end
$$;

update enterprise set profile = profile_v2(profile) where not profile ? 'patents';
