-- A subscriber's name is unique within its team (and among the all-teams subscribers), not
-- across every team: a name taken by another team must not answer 409 to a team key, which
-- would tell it that the other team exists and what it subscribes with.
-- depends: 0072_subscriber_teams

alter table event_subscribers drop constraint event_subscribers_name_key;
alter table event_subscribers
    add constraint event_subscribers_team_name_key unique nulls not distinct (team, name);
