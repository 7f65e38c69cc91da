--
-- PostgreSQL database dump
--


-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: public; Type: SCHEMA; Schema: -; Owner: -
--

-- *not* creating schema, since initdb creates it


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: alarms; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.alarms (
    id bigint NOT NULL,
    device_id text NOT NULL,
    type text NOT NULL,
    raised_ms bigint NOT NULL,
    cleared_ms bigint,
    received_ms bigint NOT NULL,
    raise_epoch bigint,
    raise_seq bigint,
    clear_seq bigint,
    floor integer,
    fault_code integer
);


--
-- Name: alarms_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.alarms ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.alarms_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: city_items; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.city_items (
    county text NOT NULL,
    kind text NOT NULL,
    item_key text NOT NULL,
    version bigint NOT NULL,
    body text NOT NULL,
    received_ms bigint NOT NULL
);


--
-- Name: city_outbox; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.city_outbox (
    id bigint NOT NULL,
    dedupe_key text NOT NULL,
    kind text NOT NULL,
    item_key text NOT NULL,
    body text NOT NULL,
    created_ms bigint NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt_ms bigint NOT NULL,
    sent_ms bigint,
    last_error text
);


--
-- Name: city_outbox_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.city_outbox_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: city_outbox_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.city_outbox_id_seq OWNED BY public.city_outbox.id;


--
-- Name: city_receipts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.city_receipts (
    idempotency_key text NOT NULL,
    county text NOT NULL,
    received_ms bigint NOT NULL
);


--
-- Name: devices; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.devices (
    device_id text NOT NULL,
    username text NOT NULL,
    created_ms bigint NOT NULL,
    last_seen_ms bigint,
    online boolean DEFAULT false NOT NULL,
    presence_ms bigint,
    heartbeat text
);


--
-- Name: elevator_identity; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.elevator_identity (
    device_id text NOT NULL,
    registration_code text NOT NULL,
    rescue_code text NOT NULL,
    area_code text NOT NULL,
    address text NOT NULL,
    using_unit text NOT NULL,
    maintenance_company text NOT NULL,
    updated_ms bigint NOT NULL
);


--
-- Name: events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.events (
    id bigint NOT NULL,
    device_id text NOT NULL,
    epoch bigint NOT NULL,
    seq bigint NOT NULL,
    type text NOT NULL,
    action text NOT NULL,
    floor integer,
    fault_code integer,
    time_ms bigint NOT NULL,
    received_ms bigint NOT NULL
);


--
-- Name: events_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.events ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: feed_digest; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.feed_digest (
    kind text NOT NULL,
    item_key text NOT NULL,
    digest text NOT NULL
);


--
-- Name: latest_status; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.latest_status (
    device_id text NOT NULL,
    epoch bigint NOT NULL,
    seq bigint NOT NULL,
    time_ms bigint NOT NULL,
    received_ms bigint NOT NULL,
    state text NOT NULL
);


--
-- Name: maintenance_sessions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.maintenance_sessions (
    device_id text NOT NULL,
    start_ms bigint NOT NULL,
    end_ms bigint,
    floors text NOT NULL,
    too_short boolean NOT NULL
);


--
-- Name: platform_seen; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.platform_seen (
    source text NOT NULL,
    row_id bigint NOT NULL,
    open boolean NOT NULL
);


--
-- Name: platform_state; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.platform_state (
    name text NOT NULL,
    value text NOT NULL
);


--
-- Name: records; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.records (
    device_id text NOT NULL,
    epoch bigint NOT NULL,
    seq bigint NOT NULL,
    kind text NOT NULL,
    mono_ms bigint NOT NULL,
    wall_ms bigint NOT NULL,
    clock_synced boolean NOT NULL,
    time_ms bigint NOT NULL,
    time_source text NOT NULL,
    received_ms bigint NOT NULL,
    body text NOT NULL
);


--
-- Name: rescue_cases; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.rescue_cases (
    case_id text NOT NULL,
    device_id text NOT NULL,
    alarm_id bigint,
    floor integer,
    status text NOT NULL,
    occurred_ms bigint NOT NULL,
    updated_ms bigint NOT NULL,
    next_escalation_ms bigint
);


--
-- Name: rescue_escalations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.rescue_escalations (
    case_id text NOT NULL,
    kind text NOT NULL,
    sent_ms bigint NOT NULL
);


--
-- Name: rescue_steps; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.rescue_steps (
    case_id text NOT NULL,
    n integer NOT NULL,
    status text NOT NULL,
    at_ms bigint NOT NULL,
    actor text NOT NULL,
    note text NOT NULL
);


--
-- Name: streams; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.streams (
    device_id text NOT NULL,
    epoch bigint NOT NULL,
    max_seq bigint NOT NULL,
    stored bigint NOT NULL,
    first_received_ms bigint NOT NULL,
    last_received_ms bigint NOT NULL
);


--
-- Name: webhook_outbox; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.webhook_outbox (
    id bigint NOT NULL,
    dedupe_key text NOT NULL,
    target text NOT NULL,
    url text NOT NULL,
    body text NOT NULL,
    created_ms bigint NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt_ms bigint NOT NULL,
    sent_ms bigint,
    failed_ms bigint,
    last_error text
);


--
-- Name: webhook_outbox_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.webhook_outbox_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: webhook_outbox_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.webhook_outbox_id_seq OWNED BY public.webhook_outbox.id;


--
-- Name: city_outbox id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.city_outbox ALTER COLUMN id SET DEFAULT nextval('public.city_outbox_id_seq'::regclass);


--
-- Name: webhook_outbox id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_outbox ALTER COLUMN id SET DEFAULT nextval('public.webhook_outbox_id_seq'::regclass);


--
-- Data for Name: alarms; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.alarms OVERRIDING SYSTEM VALUE VALUES (2, 'lift-2', 'controller_fault', 1764400030000, NULL, 1764400030050, 1, 2, NULL, 3, NULL);
INSERT INTO public.alarms OVERRIDING SYSTEM VALUE VALUES (1, 'lift-1', 'entrapment', 1764400090000, 1764400095000, 1764400090050, 1, 3, 4, 3, NULL);
INSERT INTO public.alarms OVERRIDING SYSTEM VALUE VALUES (3, 'lift-1', 'inspection', 1764400200000, 1764401400000, 1764401400050, 1, 6, 12, 3, NULL);
INSERT INTO public.alarms OVERRIDING SYSTEM VALUE VALUES (4, 'lift-3', 'device_offline', 1764400600000, NULL, 1764401500000, NULL, NULL, NULL, NULL, NULL);
INSERT INTO public.alarms OVERRIDING SYSTEM VALUE VALUES (5, 'lift-2', 'device_offline', 1764400630050, NULL, 1764401500000, NULL, NULL, NULL, NULL, NULL);


--
-- Data for Name: city_items; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.city_items VALUES ('330681', 'alarm', '7', 1, '{"alarm_id": 7, "device_id": "z-1", "type": "entrapment", "raised_ms": 1764400000000, "active": true}', 1764401500000);


--
-- Data for Name: city_outbox; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.city_outbox VALUES (1, 'alarm:1:70a632618e9ef8da4db7061f0857967e:1764400100000', 'alarm', '1', '{"alarm_id": 1, "device_id": "lift-1", "registration_code": "31103306022015060001", "area_code": "330602", "type": "entrapment", "gbt_code": "11", "severity": "alarm", "title": "Passengers trapped", "raised_at": "2025-11-29T07:08:10.000Z", "cleared_at": null, "raised_ms": 1764400090000, "cleared_ms": null, "active": true, "floor": 3, "fault_code": null}', 1764400100000, 0, 1764400100000, NULL, NULL);
INSERT INTO public.city_outbox VALUES (2, 'rescue_case:RC-1:4fa1a995273b34f06a1a822a3d4e8b54:1764400100000', 'rescue_case', 'RC-1', '{"case_id": "RC-1", "device_id": "lift-1", "alarm_id": 1, "registration_code": "31103306022015060001", "rescue_code": "100001", "area_code": "330602", "address": "1 Jiefang Rd", "maintenance_company": "Acme Lift", "floor": 3, "status": "01", "status_name": "occurred", "closed": false, "occurred_at": "2025-11-29T07:08:10.000Z", "response_s": null, "arrival_s": null, "steps": [{"status": "01", "status_name": "occurred", "at": "2025-11-29T07:08:10.000Z", "at_ms": 1764400090000, "actor": "system", "note": "entrapment"}], "escalations": []}', 1764400100000, 0, 1764400100000, NULL, NULL);
INSERT INTO public.city_outbox VALUES (3, 'alarm:2:26910cedec794c0c48dc112a926ccec0:1764400100000', 'alarm', '2', '{"alarm_id": 2, "device_id": "lift-2", "registration_code": "31103306812019110042", "area_code": "330681", "type": "controller_fault", "gbt_code": "08", "severity": "fault", "title": "Controller fault code", "raised_at": "2025-11-29T07:07:10.000Z", "cleared_at": null, "raised_ms": 1764400030000, "cleared_ms": null, "active": true, "floor": 3, "fault_code": null}', 1764400100000, 0, 1764400100000, NULL, NULL);
INSERT INTO public.city_outbox VALUES (4, 'elevator:lift-1:ad7a0af6989242766667bc1a2a0dd2a4:1764400100000', 'elevator', 'lift-1', '{"device_id": "lift-1", "registered_ms": 1755760000000, "registered_at": "2025-08-21T07:06:40.000Z", "registration_code": "31103306022015060001", "rescue_code": "100001", "area_code": "330602", "address": "1 Jiefang Rd", "using_unit": "Yuecheng Housing Office", "maintenance_company": "Acme Lift", "district": "Yuecheng (越城区)"}', 1764400100000, 0, 1764400100000, NULL, NULL);
INSERT INTO public.city_outbox VALUES (5, 'status:lift-1:a2028d8675b6d0f31c008ecf8f4dddb0:1764400100000', 'status', 'lift-1', '{"device_id": "lift-1", "registration_code": "31103306022015060001", "area_code": "330602", "online": true, "service_mode": "normal", "car_status": "stopped", "door_status": "closed", "floor": 2, "door_zone": true, "occupied": null, "active_faults": [{"type": "entrapment", "gbt_code": "11"}]}', 1764400100000, 0, 1764400100000, NULL, NULL);
INSERT INTO public.city_outbox VALUES (6, 'elevator:lift-2:ffa869847ebf465431c17403170d8372:1764400100000', 'elevator', 'lift-2', '{"device_id": "lift-2", "registered_ms": 1755760000000, "registered_at": "2025-08-21T07:06:40.000Z", "registration_code": "31103306812019110042", "rescue_code": "100002", "area_code": "330681", "address": "2 Jiyang Rd", "using_unit": "Zhuji Hospital", "maintenance_company": "Best Maint", "district": "Zhuji (诸暨市)"}', 1764400100000, 0, 1764400100000, NULL, NULL);
INSERT INTO public.city_outbox VALUES (7, 'status:lift-2:e27b1a335933d9b1611b741149cc3ca0:1764400100000', 'status', 'lift-2', '{"device_id": "lift-2", "registration_code": "31103306812019110042", "area_code": "330681", "online": true, "service_mode": "normal", "car_status": "stopped", "door_status": "closed", "floor": 4, "door_zone": true, "occupied": null, "active_faults": [{"type": "controller_fault", "gbt_code": "08"}]}', 1764400100000, 0, 1764400100000, NULL, NULL);
INSERT INTO public.city_outbox VALUES (8, 'elevator:lift-3:2821236093b3b7ae37d541aeccef6d6a:1764400100000', 'elevator', 'lift-3', '{"device_id": "lift-3", "registered_ms": 1755760000000, "registered_at": "2025-08-21T07:06:40.000Z"}', 1764400100000, 0, 1764400100000, NULL, NULL);
INSERT INTO public.city_outbox VALUES (9, 'status:lift-3:f627db27a256f0ec2ae1d76c766cc9e3:1764400100000', 'status', 'lift-3', '{"device_id": "lift-3", "registration_code": null, "area_code": null, "online": false, "service_mode": null, "car_status": null, "door_status": null, "floor": null, "door_zone": null, "occupied": null, "active_faults": []}', 1764400100000, 0, 1764400100000, NULL, NULL);
INSERT INTO public.city_outbox VALUES (10, 'rescue_case:RC-1:faf99ddc72af928d52098eebc91e054d:1764400120000', 'rescue_case', 'RC-1', '{"case_id": "RC-1", "device_id": "lift-1", "alarm_id": 1, "registration_code": "31103306022015060001", "rescue_code": "100001", "area_code": "330602", "address": "1 Jiefang Rd", "maintenance_company": "Acme Lift", "floor": 3, "status": "02", "status_name": "responded", "closed": false, "occurred_at": "2025-11-29T07:08:10.000Z", "response_s": 30.0, "arrival_s": null, "steps": [{"status": "01", "status_name": "occurred", "at": "2025-11-29T07:08:10.000Z", "at_ms": 1764400090000, "actor": "system", "note": "entrapment"}, {"status": "02", "status_name": "responded", "at": "2025-11-29T07:08:40.000Z", "at_ms": 1764400120000, "actor": "officer-wang", "note": "called the car"}], "escalations": []}', 1764400120000, 0, 1764400120000, NULL, NULL);
INSERT INTO public.city_outbox VALUES (11, 'alarm:3:3d4bb0b31e90aa254dd6b652804933d5:1764401500000', 'alarm', '3', '{"alarm_id": 3, "device_id": "lift-1", "registration_code": "31103306022015060001", "area_code": "330602", "type": "inspection", "gbt_code": "43", "severity": "info", "title": "Inspection (maintenance) mode", "raised_at": "2025-11-29T07:10:00.000Z", "cleared_at": "2025-11-29T07:30:00.000Z", "raised_ms": 1764400200000, "cleared_ms": 1764401400000, "active": false, "floor": 3, "fault_code": null}', 1764401500000, 0, 1764401500000, NULL, NULL);
INSERT INTO public.city_outbox VALUES (12, 'alarm:4:bc260d645e945bd61dcef508b13b2c82:1764401500000', 'alarm', '4', '{"alarm_id": 4, "device_id": "lift-3", "registration_code": null, "area_code": null, "type": "device_offline", "gbt_code": null, "severity": "fault", "title": "Gateway offline", "raised_at": "2025-11-29T07:16:40.000Z", "cleared_at": null, "raised_ms": 1764400600000, "cleared_ms": null, "active": true, "floor": null, "fault_code": null}', 1764401500000, 0, 1764401500000, NULL, NULL);
INSERT INTO public.city_outbox VALUES (13, 'alarm:5:d38025d33ce44b6655dafd884f62dd15:1764401500000', 'alarm', '5', '{"alarm_id": 5, "device_id": "lift-2", "registration_code": "31103306812019110042", "area_code": "330681", "type": "device_offline", "gbt_code": null, "severity": "fault", "title": "Gateway offline", "raised_at": "2025-11-29T07:17:10.050Z", "cleared_at": null, "raised_ms": 1764400630050, "cleared_ms": null, "active": true, "floor": null, "fault_code": null}', 1764401500000, 0, 1764401500000, NULL, NULL);
INSERT INTO public.city_outbox VALUES (14, 'alarm:1:0ce5f4ab2f9044fd8741397dcf6b1f4e:1764401500000', 'alarm', '1', '{"alarm_id": 1, "device_id": "lift-1", "registration_code": "31103306022015060001", "area_code": "330602", "type": "entrapment", "gbt_code": "11", "severity": "alarm", "title": "Passengers trapped", "raised_at": "2025-11-29T07:08:10.000Z", "cleared_at": "2025-11-29T07:08:15.000Z", "raised_ms": 1764400090000, "cleared_ms": 1764400095000, "active": false, "floor": 3, "fault_code": null}', 1764401500000, 0, 1764401500000, NULL, NULL);
INSERT INTO public.city_outbox VALUES (15, 'maintenance_session:lift-1:1764400200000:134af679ad2d7a6cfdbbfee27ecd2f79:1764401500000', 'maintenance_session', 'lift-1:1764400200000', '{"device_id": "lift-1", "start_at": "2025-11-29T07:10:00.000Z", "end_at": "2025-11-29T07:30:00.000Z", "start_ms": 1764400200000, "end_ms": 1764401400000, "duration_s": 1200.0, "floors_visited": [1, 2, 3, 4], "too_short": false, "counts": true}', 1764401500000, 0, 1764401500000, NULL, NULL);
INSERT INTO public.city_outbox VALUES (16, 'status:lift-1:951294e0a720000acba0a28fbfb5dc35:1764401500000', 'status', 'lift-1', '{"device_id": "lift-1", "registration_code": "31103306022015060001", "area_code": "330602", "online": true, "service_mode": "normal", "car_status": "stopped", "door_status": "closed", "floor": 3, "door_zone": true, "occupied": null, "active_faults": []}', 1764401500000, 0, 1764401500000, NULL, NULL);
INSERT INTO public.city_outbox VALUES (17, 'status:lift-2:812a10a0af49c3e805519d99bdeb48ea:1764401500000', 'status', 'lift-2', '{"device_id": "lift-2", "registration_code": "31103306812019110042", "area_code": "330681", "online": false, "service_mode": "normal", "car_status": "stopped", "door_status": "closed", "floor": 4, "door_zone": true, "occupied": null, "active_faults": [{"type": "controller_fault", "gbt_code": "08"}, {"type": "device_offline", "gbt_code": null}]}', 1764401500000, 0, 1764401500000, NULL, NULL);
INSERT INTO public.city_outbox VALUES (18, 'status:lift-3:4f5bb1a10dccbfdc2d7226f4bd304de5:1764401500000', 'status', 'lift-3', '{"device_id": "lift-3", "registration_code": null, "area_code": null, "online": false, "service_mode": null, "car_status": null, "door_status": null, "floor": null, "door_zone": null, "occupied": null, "active_faults": [{"type": "device_offline", "gbt_code": null}]}', 1764401500000, 0, 1764401500000, NULL, NULL);


--
-- Data for Name: city_receipts; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.city_receipts VALUES ('330681:x:1', '330681', 1764401500000);


--
-- Data for Name: devices; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.devices VALUES ('lift-1', 'lift-1', 1755760000000, 1764401400050, true, NULL, NULL);
INSERT INTO public.devices VALUES ('lift-3', 'lift-3', 1755760000000, NULL, false, NULL, NULL);
INSERT INTO public.devices VALUES ('lift-2', 'lift-2', 1755760000000, 1764400030050, false, 1764401500000, NULL);


--
-- Data for Name: elevator_identity; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.elevator_identity VALUES ('lift-1', '31103306022015060001', '100001', '330602', '1 Jiefang Rd', 'Yuecheng Housing Office', 'Acme Lift', 1764400100000);
INSERT INTO public.elevator_identity VALUES ('lift-2', '31103306812019110042', '100002', '330681', '2 Jiyang Rd', 'Zhuji Hospital', 'Best Maint', 1764400100000);


--
-- Data for Name: events; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.events OVERRIDING SYSTEM VALUE VALUES (1, 'lift-1', 1, 3, 'entrapment', 'raise', 3, NULL, 1764400090000, 1764400090050);
INSERT INTO public.events OVERRIDING SYSTEM VALUE VALUES (2, 'lift-2', 1, 2, 'controller_fault', 'raise', 3, NULL, 1764400030000, 1764400030050);
INSERT INTO public.events OVERRIDING SYSTEM VALUE VALUES (3, 'lift-1', 1, 4, 'entrapment', 'clear', 3, NULL, 1764400095000, 1764400096050);
INSERT INTO public.events OVERRIDING SYSTEM VALUE VALUES (4, 'lift-1', 1, 6, 'inspection', 'raise', 3, NULL, 1764400200000, 1764401400050);
INSERT INTO public.events OVERRIDING SYSTEM VALUE VALUES (5, 'lift-1', 1, 12, 'inspection', 'clear', 3, NULL, 1764401400000, 1764401400050);


--
-- Data for Name: feed_digest; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.feed_digest VALUES ('alarm', '2', '26910cedec794c0c48dc112a926ccec0');
INSERT INTO public.feed_digest VALUES ('elevator', 'lift-1', 'ad7a0af6989242766667bc1a2a0dd2a4');
INSERT INTO public.feed_digest VALUES ('elevator', 'lift-2', 'ffa869847ebf465431c17403170d8372');
INSERT INTO public.feed_digest VALUES ('elevator', 'lift-3', '2821236093b3b7ae37d541aeccef6d6a');
INSERT INTO public.feed_digest VALUES ('rescue_case', 'RC-1', 'faf99ddc72af928d52098eebc91e054d');
INSERT INTO public.feed_digest VALUES ('alarm', '3', '3d4bb0b31e90aa254dd6b652804933d5');
INSERT INTO public.feed_digest VALUES ('alarm', '4', 'bc260d645e945bd61dcef508b13b2c82');
INSERT INTO public.feed_digest VALUES ('alarm', '5', 'd38025d33ce44b6655dafd884f62dd15');
INSERT INTO public.feed_digest VALUES ('alarm', '1', '0ce5f4ab2f9044fd8741397dcf6b1f4e');
INSERT INTO public.feed_digest VALUES ('maintenance_session', 'lift-1:1764400200000', '134af679ad2d7a6cfdbbfee27ecd2f79');
INSERT INTO public.feed_digest VALUES ('status', 'lift-1', '951294e0a720000acba0a28fbfb5dc35');
INSERT INTO public.feed_digest VALUES ('status', 'lift-2', '812a10a0af49c3e805519d99bdeb48ea');
INSERT INTO public.feed_digest VALUES ('status', 'lift-3', '4f5bb1a10dccbfdc2d7226f4bd304de5');


--
-- Data for Name: latest_status; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.latest_status VALUES ('lift-2', 1, 1, 1764400015000, 1764400030050, '{"t_ms":15000,"floor":4,"direction":0,"running":false,"speed_mm_s":0,"door":"closed","door_zone":true,"door_lock":true,"safety_circuit":true,"occupied":null,"alarm_button":false,"power":true,"mode":"normal","fault_code":0}');
INSERT INTO public.latest_status VALUES ('lift-1', 1, 11, 1764400500000, 1764401400050, '{"t_ms":500000,"floor":3,"direction":0,"running":false,"speed_mm_s":0,"door":"closed","door_zone":true,"door_lock":true,"safety_circuit":true,"occupied":null,"alarm_button":false,"power":true,"mode":"normal","fault_code":0}');


--
-- Data for Name: maintenance_sessions; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.maintenance_sessions VALUES ('lift-1', 1764400200000, 1764401400000, '[1, 2, 3, 4]', false);


--
-- Data for Name: platform_seen; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.platform_seen VALUES ('alarms', 2, true);
INSERT INTO public.platform_seen VALUES ('alarms', 3, false);
INSERT INTO public.platform_seen VALUES ('alarms', 4, true);
INSERT INTO public.platform_seen VALUES ('alarms', 5, true);
INSERT INTO public.platform_seen VALUES ('alarms', 1, false);
INSERT INTO public.platform_seen VALUES ('events', 4, false);
INSERT INTO public.platform_seen VALUES ('events', 5, false);


--
-- Data for Name: platform_state; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.platform_state VALUES ('top:alarms', '5');
INSERT INTO public.platform_state VALUES ('top:events', '5');


--
-- Data for Name: records; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.records VALUES ('lift-1', 1, 1, 'status', 10000, 1764400010000, true, 1764400010000, 'device', 1764400090050, '{"t_ms":10000,"floor":1,"direction":0,"running":false,"speed_mm_s":0,"door":"closed","door_zone":true,"door_lock":true,"safety_circuit":true,"occupied":null,"alarm_button":false,"power":true,"mode":"normal","fault_code":0}');
INSERT INTO public.records VALUES ('lift-1', 1, 2, 'status', 20000, 1764400020000, true, 1764400020000, 'device', 1764400090050, '{"t_ms":20000,"floor":2,"direction":0,"running":false,"speed_mm_s":0,"door":"closed","door_zone":true,"door_lock":true,"safety_circuit":true,"occupied":null,"alarm_button":false,"power":true,"mode":"normal","fault_code":0}');
INSERT INTO public.records VALUES ('lift-1', 1, 3, 'event', 90000, 1764400090000, true, 1764400090000, 'device', 1764400090050, '{"t_ms":90000,"type":"entrapment","action":"raise","floor":3,"fault_code":null}');
INSERT INTO public.records VALUES ('lift-2', 1, 1, 'status', 15000, 1764400015000, true, 1764400015000, 'device', 1764400030050, '{"t_ms":15000,"floor":4,"direction":0,"running":false,"speed_mm_s":0,"door":"closed","door_zone":true,"door_lock":true,"safety_circuit":true,"occupied":null,"alarm_button":false,"power":true,"mode":"normal","fault_code":0}');
INSERT INTO public.records VALUES ('lift-2', 1, 2, 'event', 30000, 1764400030000, true, 1764400030000, 'device', 1764400030050, '{"t_ms":30000,"type":"controller_fault","action":"raise","floor":3,"fault_code":null}');
INSERT INTO public.records VALUES ('lift-1', 1, 4, 'event', 95000, 1764400095000, true, 1764400095000, 'device', 1764400096050, '{"t_ms":95000,"type":"entrapment","action":"clear","floor":3,"fault_code":null}');
INSERT INTO public.records VALUES ('lift-1', 1, 5, 'status', 96000, 1764400096000, true, 1764400096000, 'device', 1764400096050, '{"t_ms":96000,"floor":2,"direction":0,"running":false,"speed_mm_s":0,"door":"closed","door_zone":true,"door_lock":true,"safety_circuit":true,"occupied":null,"alarm_button":false,"power":true,"mode":"normal","fault_code":0}');
INSERT INTO public.records VALUES ('lift-1', 1, 6, 'event', 200000, 1764400200000, true, 1764400200000, 'device', 1764401400050, '{"t_ms":200000,"type":"inspection","action":"raise","floor":3,"fault_code":null}');
INSERT INTO public.records VALUES ('lift-1', 1, 7, 'status', 260000, 1764400260000, true, 1764400260000, 'device', 1764401400050, '{"t_ms":260000,"floor":1,"direction":0,"running":false,"speed_mm_s":0,"door":"closed","door_zone":true,"door_lock":true,"safety_circuit":true,"occupied":null,"alarm_button":false,"power":true,"mode":"normal","fault_code":0}');
INSERT INTO public.records VALUES ('lift-1', 1, 8, 'status', 320000, 1764400320000, true, 1764400320000, 'device', 1764401400050, '{"t_ms":320000,"floor":2,"direction":0,"running":false,"speed_mm_s":0,"door":"closed","door_zone":true,"door_lock":true,"safety_circuit":true,"occupied":null,"alarm_button":false,"power":true,"mode":"normal","fault_code":0}');
INSERT INTO public.records VALUES ('lift-1', 1, 9, 'status', 380000, 1764400380000, true, 1764400380000, 'device', 1764401400050, '{"t_ms":380000,"floor":3,"direction":0,"running":false,"speed_mm_s":0,"door":"closed","door_zone":true,"door_lock":true,"safety_circuit":true,"occupied":null,"alarm_button":false,"power":true,"mode":"normal","fault_code":0}');
INSERT INTO public.records VALUES ('lift-1', 1, 10, 'status', 440000, 1764400440000, true, 1764400440000, 'device', 1764401400050, '{"t_ms":440000,"floor":4,"direction":0,"running":false,"speed_mm_s":0,"door":"closed","door_zone":true,"door_lock":true,"safety_circuit":true,"occupied":null,"alarm_button":false,"power":true,"mode":"normal","fault_code":0}');
INSERT INTO public.records VALUES ('lift-1', 1, 11, 'status', 500000, 1764400500000, true, 1764400500000, 'device', 1764401400050, '{"t_ms":500000,"floor":3,"direction":0,"running":false,"speed_mm_s":0,"door":"closed","door_zone":true,"door_lock":true,"safety_circuit":true,"occupied":null,"alarm_button":false,"power":true,"mode":"normal","fault_code":0}');
INSERT INTO public.records VALUES ('lift-1', 1, 12, 'event', 1400000, 1764401400000, true, 1764401400000, 'device', 1764401400050, '{"t_ms":1400000,"type":"inspection","action":"clear","floor":3,"fault_code":null}');


--
-- Data for Name: rescue_cases; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.rescue_cases VALUES ('RC-1', 'lift-1', 1, 3, '02', 1764400090000, 1764400120000, 1764401890000);


--
-- Data for Name: rescue_escalations; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: rescue_steps; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.rescue_steps VALUES ('RC-1', 0, '01', 1764400090000, 'system', 'entrapment');
INSERT INTO public.rescue_steps VALUES ('RC-1', 1, '02', 1764400120000, 'officer-wang', 'called the car');


--
-- Data for Name: streams; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.streams VALUES ('lift-2', 1, 2, 2, 1764400030050, 1764400030050);
INSERT INTO public.streams VALUES ('lift-1', 1, 12, 12, 1764400090050, 1764401400050);


--
-- Data for Name: webhook_outbox; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.webhook_outbox VALUES (1, 'RC-1:opened:rescue_centre', 'rescue_centre', 'http://127.0.0.1:9/centre', '{"event": "rescue.opened", "case": {"case_id": "RC-1", "device_id": "lift-1", "alarm_id": 1, "registration_code": "31103306022015060001", "rescue_code": "100001", "area_code": "330602", "address": "1 Jiefang Rd", "maintenance_company": "Acme Lift", "floor": 3, "status": "01", "status_name": "occurred", "closed": false, "occurred_at": "2025-11-29T07:08:10.000Z", "response_s": null, "arrival_s": null, "steps": [{"status": "01", "status_name": "occurred", "at": "2025-11-29T07:08:10.000Z", "at_ms": 1764400090000, "actor": "system", "note": "entrapment"}], "escalations": []}}', 1764400100000, 0, 1764400100000, NULL, NULL, NULL);
INSERT INTO public.webhook_outbox VALUES (2, 'RC-1:step:1:rescue_centre', 'rescue_centre', 'http://127.0.0.1:9/centre', '{"event": "rescue.status", "case": {"case_id": "RC-1", "device_id": "lift-1", "alarm_id": 1, "registration_code": "31103306022015060001", "rescue_code": "100001", "area_code": "330602", "address": "1 Jiefang Rd", "maintenance_company": "Acme Lift", "floor": 3, "status": "02", "status_name": "responded", "closed": false, "occurred_at": "2025-11-29T07:08:10.000Z", "response_s": 30.0, "arrival_s": null, "steps": [{"status": "01", "status_name": "occurred", "at": "2025-11-29T07:08:10.000Z", "at_ms": 1764400090000, "actor": "system", "note": "entrapment"}, {"status": "02", "status_name": "responded", "at": "2025-11-29T07:08:40.000Z", "at_ms": 1764400120000, "actor": "officer-wang", "note": "called the car"}], "escalations": []}}', 1764400120000, 0, 1764400120000, NULL, NULL, NULL);


--
-- Name: alarms_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.alarms_id_seq', 5, true);


--
-- Name: city_outbox_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.city_outbox_id_seq', 18, true);


--
-- Name: events_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.events_id_seq', 5, true);


--
-- Name: webhook_outbox_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.webhook_outbox_id_seq', 2, true);


--
-- Name: alarms alarms_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.alarms
    ADD CONSTRAINT alarms_pkey PRIMARY KEY (id);


--
-- Name: city_items city_items_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.city_items
    ADD CONSTRAINT city_items_pkey PRIMARY KEY (county, kind, item_key);


--
-- Name: city_outbox city_outbox_dedupe_key_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.city_outbox
    ADD CONSTRAINT city_outbox_dedupe_key_key UNIQUE (dedupe_key);


--
-- Name: city_outbox city_outbox_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.city_outbox
    ADD CONSTRAINT city_outbox_pkey PRIMARY KEY (id);


--
-- Name: city_receipts city_receipts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.city_receipts
    ADD CONSTRAINT city_receipts_pkey PRIMARY KEY (idempotency_key);


--
-- Name: devices devices_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.devices
    ADD CONSTRAINT devices_pkey PRIMARY KEY (device_id);


--
-- Name: elevator_identity elevator_identity_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.elevator_identity
    ADD CONSTRAINT elevator_identity_pkey PRIMARY KEY (device_id);


--
-- Name: elevator_identity elevator_identity_registration_code_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.elevator_identity
    ADD CONSTRAINT elevator_identity_registration_code_key UNIQUE (registration_code);


--
-- Name: elevator_identity elevator_identity_rescue_code_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.elevator_identity
    ADD CONSTRAINT elevator_identity_rescue_code_key UNIQUE (rescue_code);


--
-- Name: events events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_pkey PRIMARY KEY (id);


--
-- Name: feed_digest feed_digest_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.feed_digest
    ADD CONSTRAINT feed_digest_pkey PRIMARY KEY (kind, item_key);


--
-- Name: latest_status latest_status_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.latest_status
    ADD CONSTRAINT latest_status_pkey PRIMARY KEY (device_id);


--
-- Name: maintenance_sessions maintenance_sessions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.maintenance_sessions
    ADD CONSTRAINT maintenance_sessions_pkey PRIMARY KEY (device_id, start_ms);


--
-- Name: platform_seen platform_seen_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.platform_seen
    ADD CONSTRAINT platform_seen_pkey PRIMARY KEY (source, row_id);


--
-- Name: platform_state platform_state_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.platform_state
    ADD CONSTRAINT platform_state_pkey PRIMARY KEY (name);


--
-- Name: records records_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.records
    ADD CONSTRAINT records_pkey PRIMARY KEY (device_id, epoch, seq);


--
-- Name: rescue_cases rescue_cases_alarm_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rescue_cases
    ADD CONSTRAINT rescue_cases_alarm_id_key UNIQUE (alarm_id);


--
-- Name: rescue_cases rescue_cases_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rescue_cases
    ADD CONSTRAINT rescue_cases_pkey PRIMARY KEY (case_id);


--
-- Name: rescue_escalations rescue_escalations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rescue_escalations
    ADD CONSTRAINT rescue_escalations_pkey PRIMARY KEY (case_id, kind);


--
-- Name: rescue_steps rescue_steps_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rescue_steps
    ADD CONSTRAINT rescue_steps_pkey PRIMARY KEY (case_id, n);


--
-- Name: streams streams_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.streams
    ADD CONSTRAINT streams_pkey PRIMARY KEY (device_id, epoch);


--
-- Name: webhook_outbox webhook_outbox_dedupe_key_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_outbox
    ADD CONSTRAINT webhook_outbox_dedupe_key_key UNIQUE (dedupe_key);


--
-- Name: webhook_outbox webhook_outbox_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_outbox
    ADD CONSTRAINT webhook_outbox_pkey PRIMARY KEY (id);


--
-- Name: alarms_by_raise; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX alarms_by_raise ON public.alarms USING btree (device_id, type, raise_epoch, raise_seq);


--
-- Name: alarms_by_time; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX alarms_by_time ON public.alarms USING btree (raised_ms);


--
-- Name: alarms_one_offline; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX alarms_one_offline ON public.alarms USING btree (device_id, type) WHERE ((cleared_ms IS NULL) AND (raise_epoch IS NULL));


--
-- Name: city_outbox_pending; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX city_outbox_pending ON public.city_outbox USING btree (sent_ms, id);


--
-- Name: events_by_device_time; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX events_by_device_time ON public.events USING btree (device_id, time_ms);


--
-- Name: events_by_stream_type; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX events_by_stream_type ON public.events USING btree (device_id, epoch, type, seq);


--
-- Name: rescue_cases_by_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX rescue_cases_by_status ON public.rescue_cases USING btree (status, occurred_ms);


--
-- Name: rescue_cases_due; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX rescue_cases_due ON public.rescue_cases USING btree (next_escalation_ms);


--
-- Name: webhook_outbox_due; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX webhook_outbox_due ON public.webhook_outbox USING btree (sent_ms, failed_ms, next_attempt_ms);


--
-- PostgreSQL database dump complete
--


