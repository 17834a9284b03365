-- A Hydra-compatible subset of Hydra's database, written for hydra-notify-gateway from the
-- NixOS/hydra's hydra.sql (schema version 87). It holds the tables the gateway reads
-- and the simulator writes, with Hydra's names, types, keys, CHECKs, the indexes the
-- gateway's queries rely on, and Hydra's trigger channels.
--
-- Used ONLY for the embedded database and tests (see install.ts): the gateway never runs
-- this against a real Hydra, whose schema it must not change.
--
-- Identifiers are unquoted and lower case, as Postgres folds Hydra's camelCase names.
-- Times are integer Unix seconds; most booleans are integer 0/1, as in Hydra.

create table users (
    username        text primary key not null,
    fullname        text,
    emailaddress    text not null,
    password        text not null,
    emailonerror    integer not null default 0,
    type            text not null default 'hydra',
    publicdashboard boolean not null default false
);

create table projects (
    name          text primary key not null, -- e.g. "nixpkgs"
    displayname   text not null,
    description   text,
    enabled       integer not null default 1,
    hidden        integer not null default 0,
    owner         text not null references users(username) on update cascade,
    homepage      text
);

create table jobsets (
    name             text not null,
    id               serial not null unique,
    project          text not null references projects(name) on delete cascade on update cascade,
    description      text,
    nixexprinput     text, -- legacy jobsets (type 0) only
    nixexprpath      text, -- legacy jobsets (type 0) only
    errormsg         text, -- last evaluation error
    errortime        integer,
    lastcheckedtime  integer, -- last time the evaluator looked at this jobset
    triggertime      integer, -- set to ask for an evaluation as soon as possible
    enabled          integer not null default 1, -- 0 disabled, 1 enabled, 2 one-shot, 3 one-at-a-time
    enableemail      integer not null default 1,
    hidden           integer not null default 0,
    emailoverride    text not null,
    keepnr           integer not null default 3,
    checkinterval    integer not null default 300, -- seconds between evaluations, 0 = never
    schedulingshares integer not null default 100,
    fetcherrormsg    text,
    starttime        integer, -- when the running evaluation started, null when idle
    type             integer not null default 0, -- 0 legacy, 1 flake
    flake            text,
    primary key (project, name),
    check (schedulingshares > 0),
    check ((type = 0) = (nixexprinput is not null and nixexprpath is not null)),
    check ((type = 1) = (flake is not null))
);

create table jobsetevals (
    id                 serial primary key not null,
    jobset_id          integer not null references jobsets(id) on delete cascade,
    evaluationerror_id integer, -- Hydra's evaluationerrors table is not part of this subset
    timestamp          integer not null, -- when the eval was added
    checkouttime       integer not null, -- seconds spent fetching inputs
    evaltime           integer not null, -- seconds spent evaluating
    hasnewbuilds       integer not null, -- 0: no members rows for this eval
    hash               text not null, -- hash of the inputs, detects unchanged inputs
    nrbuilds           integer,
    nrsucceeded        integer,
    flake              text -- the locked flake reference, flake jobsets only
);

create table builds (
    id                       serial primary key not null,
    finished                 integer not null, -- 0 queued or building, 1 finished
    timestamp                integer not null, -- when the build was queued
    jobset_id                integer not null references jobsets(id) on delete cascade,
    job                      text not null,
    nixname                  text,
    description              text,
    drvpath                  text not null,
    system                   text not null,
    license                  text,
    homepage                 text,
    maintainers              text,
    maxsilent                integer default 3600,
    timeout                  integer default 36000,
    ischannel                integer not null default 0,
    iscurrent                integer default 0,
    priority                 integer not null default 0,
    globalpriority           integer not null default 0,
    starttime                integer, -- set when the build finishes
    stoptime                 integer,
    iscachedbuild            integer,
    buildstatus              integer, -- 0 succeeded, 1 failed, 2 dependency failed, 3 aborted, 4 cancelled, ...
    size                     bigint,
    closuresize              bigint,
    releasename              text,
    keep                     integer not null default 0,
    notificationpendingsince integer, -- set with finished = 1, cleared by whoever notified
    check (finished = 0 or (stoptime is not null and stoptime != 0)),
    check (finished = 0 or (starttime is not null and starttime != 0))
);

create table buildoutputs (
    build integer not null references builds(id) on delete cascade,
    name  text not null,
    path  text, -- null for content-addressed outputs not yet built
    primary key (build, name)
);

create table buildsteps (
    build              integer not null references builds(id) on delete cascade,
    stepnr             integer not null,
    type               integer not null, -- 0 build, 1 substitution
    drvpath            text not null,
    busy               integer not null, -- 0 idle, 1 preparing, ..., 30 building, ..., 50 post-processing
    status             integer, -- a buildstatus code, null while busy
    errormsg           text,
    starttime          integer,
    stoptime           integer,
    machine            text not null default '',
    system             text,
    propagatedfrom     integer references builds(id) on delete cascade,
    overhead           integer,
    timesbuilt         integer,
    isnondeterministic boolean,
    resolveddrvpath    text,
    primary key (build, stepnr),
    check ((status = 13) = (resolveddrvpath is not null))
);

create table jobsetevalmembers (
    eval  integer not null references jobsetevals(id) on delete cascade,
    build integer not null references builds(id) on delete cascade,
    isnew integer not null,
    primary key (eval, build)
);

-- The inputs of an evaluation (legacy jobsets): where the commit statuses of its builds go.
create table jobsetevalinputs (
    eval       integer not null references jobsetevals(id) on delete cascade,
    name       text not null,
    altnr      integer not null,
    type       text not null, -- git, hg, path, build, …
    uri        text,
    revision   text,
    value      text,
    dependency integer references builds(id), -- for type = 'build'
    path       text,
    sha256hash text,
    primary key (eval, name, altnr)
);

-- The pending build_finished backlog: small, scanned at every gateway start.
create index indexbuildsonnotificationpendingsince on builds(notificationpendingsince)
    where notificationpendingsince is not null;
-- The queue: what the queue runner (and the simulator) picks from.
create index indexbuildsonfinished on builds(id desc) where finished = 0;
create index indexbuildsonjobsetidfinishedid on builds(jobset_id, finished, id desc);
create index indexbuildsondrvpath on builds(drvpath);
create index indexbuildoutputsonpath on buildoutputs using hash(path);
create index indexbuildstepsonbusy on buildsteps(busy) where busy != 0;
create index indexbuildstepsonstoptime on buildsteps(stoptime desc)
    where starttime is not null and stoptime is not null;
create index indexbuildstepsonpropagatedfrom on buildsteps(propagatedfrom)
    where propagatedfrom is not null;
create index indexjobsetevalmembersonbuild on jobsetevalmembers(build);
create index indexjobsetevalmembersoneval on jobsetevalmembers(eval);
create index indexjobsetevalsonjobsetid on jobsetevals(jobset_id, id desc);

-- Hydra's trigger channels. Every NOTIFY has an empty payload: they only wake the queue
-- runner and the evaluator, which then re-read the tables.

create function notifybuildsdeleted() returns trigger as $$
begin
    perform pg_notify('builds_deleted', '');
    return null;
end;
$$ language plpgsql;

create trigger buildsdeleted after delete on builds
    for each statement execute procedure notifybuildsdeleted();

create function notifybuildrestarted() returns trigger as $$
begin
    perform pg_notify('builds_restarted', '');
    return null;
end;
$$ language plpgsql;

create trigger buildrestarted after update on builds
    for each row
    when (old.finished = 1 and new.finished = 0)
    execute procedure notifybuildrestarted();

create function notifybuildcancelled() returns trigger as $$
begin
    perform pg_notify('builds_cancelled', '');
    return null;
end;
$$ language plpgsql;

create trigger buildcancelled after update on builds
    for each row
    when (old.finished = 0 and new.finished = 1 and new.buildstatus = 4)
    execute procedure notifybuildcancelled();

create function notifybuildbumped() returns trigger as $$
begin
    perform pg_notify('builds_bumped', '');
    return null;
end;
$$ language plpgsql;

create trigger buildbumped after update on builds
    for each row
    when (old.globalpriority is distinct from new.globalpriority)
    execute procedure notifybuildbumped();

create function notifyjobsetsadded() returns trigger as $$
begin
    perform pg_notify('jobsets_added', '');
    return null;
end;
$$ language plpgsql;

create trigger jobsetsadded after insert on jobsets
    for each statement execute procedure notifyjobsetsadded();

create function notifyjobsetsdeleted() returns trigger as $$
begin
    perform pg_notify('jobsets_deleted', '');
    return null;
end;
$$ language plpgsql;

create trigger jobsetsdeleted after delete on jobsets
    for each statement execute procedure notifyjobsetsdeleted();

create function notifyjobsetschedulingchanged() returns trigger as $$
begin
    perform pg_notify('jobset_scheduling_changed', '');
    return null;
end;
$$ language plpgsql;

-- The evaluator clears triggertime after each evaluation: only setting it is a change.
create trigger jobsetschedulingchanged after update on jobsets
    for each row
    when ((old.triggertime is distinct from new.triggertime and new.triggertime is not null)
          or old.checkinterval is distinct from new.checkinterval
          or old.enabled is distinct from new.enabled)
    execute procedure notifyjobsetschedulingchanged();

create function notifyjobsetshareschanged() returns trigger as $$
begin
    perform pg_notify('jobset_shares_changed', '');
    return null;
end;
$$ language plpgsql;

create trigger jobsetshareschanged after update on jobsets
    for each row
    when (old.schedulingshares is distinct from new.schedulingshares)
    execute procedure notifyjobsetshareschanged();
