-- A data directory made by ottod 0.1 (schema 1): three devices in group
-- attic, firmware fw-ba4c6a759727 (otto image build --version 1.1.0
-- --project lamp --secure-version 1 --size 64K), job job-prev-1 with one
-- execution SUCCEEDED, one IN_PROGRESS, one QUEUED. Loaded by
-- tests/e2e/12-upgrade.sh.
BEGIN TRANSACTION;
CREATE TABLE device_groups( grp TEXT NOT NULL, thing TEXT NOT NULL, PRIMARY KEY(grp, thing)) WITHOUT ROWID;
INSERT INTO "device_groups" VALUES('attic','24:0a:c4:12:00:01');
INSERT INTO "device_groups" VALUES('attic','24:0a:c4:12:00:02');
INSERT INTO "device_groups" VALUES('attic','24:0a:c4:12:00:03');
CREATE TABLE devices( thing TEXT PRIMARY KEY, product TEXT NOT NULL DEFAULT '', versions TEXT NOT NULL DEFAULT '{}', created_at INTEGER NOT NULL, last_seen INTEGER NOT NULL DEFAULT 0);
INSERT INTO "devices" VALUES('24:0a:c4:12:00:01','lamp','{}',1796614770,0);
INSERT INTO "devices" VALUES('24:0a:c4:12:00:02','lamp','{}',1796614770,0);
INSERT INTO "devices" VALUES('24:0a:c4:12:00:03','lamp','{}',1796614770,0);
CREATE TABLE executions( job_seq INTEGER NOT NULL, thing TEXT NOT NULL, exec_no INTEGER NOT NULL, status TEXT NOT NULL, version INTEGER NOT NULL, queued_at INTEGER NOT NULL, started_at INTEGER NOT NULL DEFAULT 0, updated_at INTEGER NOT NULL, step_deadline INTEGER NOT NULL DEFAULT 0, deadline INTEGER NOT NULL DEFAULT 0, details TEXT NOT NULL DEFAULT '{}', PRIMARY KEY(job_seq, thing, exec_no)) WITHOUT ROWID;
INSERT INTO "executions" VALUES(1,'24:0a:c4:12:00:01',1,'SUCCEEDED',3,1796614770,1796614770,1796614770,0,0,'{"reason":"updated","version":"1.1.0"}');
INSERT INTO "executions" VALUES(1,'24:0a:c4:12:00:02',1,'IN_PROGRESS',2,1796614770,1796614770,1796614770,0,0,'{"step":"download","bytes":"4096"}');
INSERT INTO "executions" VALUES(1,'24:0a:c4:12:00:03',1,'QUEUED',1,1796614770,0,1796614770,0,0,'{}');
CREATE TABLE firmware( id TEXT PRIMARY KEY, sha256 TEXT NOT NULL, md5 TEXT NOT NULL, size INTEGER NOT NULL, ota_type TEXT NOT NULL, product TEXT NOT NULL, grp TEXT NOT NULL, version TEXT NOT NULL, project TEXT NOT NULL, secure_version INTEGER NOT NULL, name TEXT NOT NULL, extra TEXT NOT NULL, created_at INTEGER NOT NULL);
INSERT INTO "firmware" VALUES('fw-ba4c6a759727','ba4c6a7597277e4e35de785e5c64d44d6895cdd9a9a44e4d403c74cea37efd1e','500b0dd36ad509748de9b97ce5409c6a',65536,'esp32','lamp','','1.1.0','lamp',1,'v110.bin','{}',1796614770);
CREATE TABLE job_fw(job_seq INTEGER NOT NULL, fw_id TEXT NOT NULL, PRIMARY KEY(fw_id, job_seq)) WITHOUT ROWID;
INSERT INTO "job_fw" VALUES(1,'fw-ba4c6a759727');
CREATE TABLE jobs( seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, status TEXT NOT NULL, created_at INTEGER NOT NULL, completed_at INTEGER NOT NULL DEFAULT 0, product TEXT NOT NULL, ota_types TEXT NOT NULL, timeout_min INTEGER NOT NULL, description TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', document TEXT NOT NULL, targets TEXT NOT NULL, fw_ids TEXT NOT NULL);
INSERT INTO "jobs" VALUES(1,'job-prev-1','IN_PROGRESS',1796614770,0,'lamp','esp32',0,'made by the previous release','','{"product":"lamp","group":"","firmware":[{"id":"fw-ba4c6a759727","ota_type":"esp32","url":"http://127.0.0.1:36989/fw/fw-ba4c6a759727","size":65536,"md5":"500b0dd36ad509748de9b97ce5409c6a","sha256":"ba4c6a7597277e4e35de785e5c64d44d6895cdd9a9a44e4d403c74cea37efd1e","version":"1.1.0","project":"lamp","secure_version":1}]}','{"devices":[],"groups":["attic"]}','["fw-ba4c6a759727"]');
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
INSERT INTO "meta" VALUES('schema','1');
CREATE INDEX device_groups_thing ON device_groups(thing);
CREATE INDEX executions_thing ON executions(thing, status, job_seq);
CREATE INDEX executions_job_status ON executions(job_seq, status);
CREATE INDEX executions_running ON executions(status, step_deadline, deadline) WHERE status = 'IN_PROGRESS';
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('jobs',1);
COMMIT;
