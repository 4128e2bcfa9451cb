/*
 * libotrpeer: a libotr 4.1 client driven one command per line, for the
 * interoperability tests of package otr3. The Go test compiles it with
 * "cc libotrpeer.c -lotr" into a temporary directory.
 *
 * usage: libotrpeer KEYFILE INSTAGFILE ACCOUNT CONTACT
 *
 * Commands (stdin; arguments escaped: \\ \n \r \t):
 *   recv MSG          a wire string from the contact
 *   send TEXT         the user types TEXT
 *   query             send libotr's default query message
 *   policy N          set the OtrlPolicy bits (decimal)
 *   maxsize N         fragment what we send to N bytes (0: never)
 *   smp SECRET        start SMP;  smpq QUESTION\tSECRET  start SMP with a question
 *   smpanswer SECRET  answer SMP; smpabort
 *   end               end the private conversation (all instances)
 *   state             print "state MSGSTATE THEIR_INSTAG THEIR_FINGERPRINT"
 *   quit
 * Output lines: "ready FINGERPRINT INSTAG", "wire MSG", "text MSG",
 * "event NAME", "smp EVENT PROGRESS QUESTION", "msgevent N MSG",
 * "symkey USE USEDATA KEY", and "done" after each command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libotr/proto.h>
#include <libotr/message.h>
#include <libotr/privkey.h>
#include <libotr/instag.h>
#include <libotr/userstate.h>

static OtrlUserState us;
static const char *keyfile, *instagfile, *account, *contact;
static const char *proto = "xmpp";
static OtrlPolicy peer_policy = OTRL_POLICY_ALLOW_V2 | OTRL_POLICY_ALLOW_V3 | OTRL_POLICY_WHITESPACE_START_AKE;
static int maxsize = 0;

static void put_escaped(const char *s) {
	for (; s && *s; s++) {
		switch (*s) {
		case '\\': fputs("\\\\", stdout); break;
		case '\n': fputs("\\n", stdout); break;
		case '\r': fputs("\\r", stdout); break;
		case '\t': fputs("\\t", stdout); break;
		default: putchar(*s);
		}
	}
}

static void out(const char *kind, const char *s) {
	fputs(kind, stdout);
	putchar(' ');
	put_escaped(s);
	putchar('\n');
}

static char *unescape(const char *s) {
	char *r = malloc(strlen(s) + 1), *w = r;
	for (; *s; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			switch (*s) {
			case 'n': *w++ = '\n'; break;
			case 'r': *w++ = '\r'; break;
			case 't': *w++ = '\t'; break;
			default: *w++ = *s;
			}
		} else {
			*w++ = *s;
		}
	}
	*w = 0;
	return r;
}

static void hex(const unsigned char *b, size_t n) {
	for (size_t i = 0; i < n; i++) printf("%02x", b[i]);
	if (n == 0) putchar('-');
}

static OtrlPolicy cb_policy(void *opdata, ConnContext *context) { return peer_policy; }
static void cb_create_privkey(void *opdata, const char *a, const char *p) { otrl_privkey_generate(us, keyfile, a, p); }
static int cb_is_logged_in(void *opdata, const char *a, const char *p, const char *r) { return 1; }
static void cb_inject(void *opdata, const char *a, const char *p, const char *r, const char *m) { out("wire", m); }
static void cb_update_context_list(void *opdata) {}
static void cb_new_fingerprint(void *opdata, OtrlUserState u, const char *a, const char *p, const char *n, unsigned char fp[20]) {
	char human[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];
	otrl_privkey_hash_to_human(human, fp);
	out("newfp", human);
}
static void cb_write_fingerprints(void *opdata) {}
static void cb_gone_secure(void *opdata, ConnContext *c) { puts("event secure"); }
static void cb_gone_insecure(void *opdata, ConnContext *c) { puts("event insecure"); }
static void cb_still_secure(void *opdata, ConnContext *c, int is_reply) { puts("event stillsecure"); }
static int cb_max_message_size(void *opdata, ConnContext *c) { return maxsize; }
static const char *cb_account_name(void *opdata, const char *a, const char *p) { return strdup(a); }
static void cb_account_name_free(void *opdata, const char *n) { free((char *)n); }
static void cb_received_symkey(void *opdata, ConnContext *c, unsigned int use, const unsigned char *usedata, size_t usedatalen, const unsigned char *symkey) {
	printf("symkey %u ", use);
	hex(usedata, usedatalen);
	putchar(' ');
	hex(symkey, OTRL_EXTRAKEY_BYTES);
	putchar('\n');
}
static const char *cb_otr_error_message(void *opdata, ConnContext *c, OtrlErrorCode code) {
	char buf[64];
	snprintf(buf, sizeof buf, "libotr error %d", (int)code);
	return strdup(buf);
}
static void cb_otr_error_message_free(void *opdata, const char *m) { free((char *)m); }
static const char *cb_resent_msg_prefix(void *opdata, ConnContext *c) { return strdup("[resent]"); }
static void cb_resent_msg_prefix_free(void *opdata, const char *p) { free((char *)p); }

static const char *smp_event_name(OtrlSMPEvent e) {
	switch (e) {
	case OTRL_SMPEVENT_NONE: return "none";
	case OTRL_SMPEVENT_ASK_FOR_SECRET: return "askforsecret";
	case OTRL_SMPEVENT_ASK_FOR_ANSWER: return "askforanswer";
	case OTRL_SMPEVENT_CHEATED: return "cheated";
	case OTRL_SMPEVENT_IN_PROGRESS: return "inprogress";
	case OTRL_SMPEVENT_SUCCESS: return "success";
	case OTRL_SMPEVENT_FAILURE: return "failure";
	case OTRL_SMPEVENT_ABORT: return "abort";
	case OTRL_SMPEVENT_ERROR: return "error";
	}
	return "unknown";
}

static void cb_handle_smp_event(void *opdata, OtrlSMPEvent e, ConnContext *c, unsigned short progress, char *question) {
	printf("smp %s %u ", smp_event_name(e), progress);
	put_escaped(question ? question : "");
	putchar('\n');
}

static void cb_handle_msg_event(void *opdata, OtrlMessageEvent e, ConnContext *c, const char *m, gcry_error_t err) {
	printf("msgevent %d ", (int)e);
	put_escaped(m ? m : "");
	putchar('\n');
}
static void cb_create_instag(void *opdata, const char *a, const char *p) { otrl_instag_generate(us, instagfile, a, p); }
static void cb_timer_control(void *opdata, unsigned int interval) {}

static OtrlMessageAppOps ops = {
	cb_policy, cb_create_privkey, cb_is_logged_in, cb_inject, cb_update_context_list,
	cb_new_fingerprint, cb_write_fingerprints, cb_gone_secure, cb_gone_insecure,
	cb_still_secure, cb_max_message_size, cb_account_name, cb_account_name_free,
	cb_received_symkey, cb_otr_error_message, cb_otr_error_message_free,
	cb_resent_msg_prefix, cb_resent_msg_prefix_free, cb_handle_smp_event,
	cb_handle_msg_event, cb_create_instag, NULL, NULL, cb_timer_control,
};

static ConnContext *best_context(void) {
	return otrl_context_find(us, contact, account, proto, OTRL_INSTAG_BEST, 0, NULL, NULL, NULL);
}

static void do_recv(const char *msg) {
	char *newmsg = NULL;
	OtrlTLV *tlvs = NULL;
	ConnContext *ctx = NULL;
	int ignore = otrl_message_receiving(us, &ops, NULL, account, proto, contact, msg, &newmsg, &tlvs, &ctx, NULL, NULL);
	if (!ignore)
		out("text", newmsg ? newmsg : msg);
	for (OtrlTLV *t = tlvs; t; t = t->next)
		printf("tlv %u\n", t->type);
	if (otrl_tlv_find(tlvs, OTRL_TLV_DISCONNECTED))
		puts("event peerended");
	otrl_tlv_free(tlvs);
	otrl_message_free(newmsg);
}

static void do_send(const char *text) {
	char *newmsg = NULL;
	ConnContext *ctx = NULL;
	gcry_error_t err = otrl_message_sending(us, &ops, NULL, account, proto, contact, OTRL_INSTAG_BEST, text, NULL,
		&newmsg, OTRL_FRAGMENT_SEND_ALL_BUT_LAST, &ctx, NULL, NULL);
	if (err) {
		printf("error sending %d\n", (int)err);
	} else {
		out("wire", newmsg ? newmsg : text);
	}
	otrl_message_free(newmsg);
}

int main(int argc, char **argv) {
	if (argc != 5) {
		fprintf(stderr, "usage: libotrpeer KEYFILE INSTAGFILE ACCOUNT CONTACT\n");
		return 2;
	}
	keyfile = argv[1];
	instagfile = argv[2];
	account = argv[3];
	contact = argv[4];
	setvbuf(stdout, NULL, _IOLBF, 0);
	OTRL_INIT;
	us = otrl_userstate_create();
	if (otrl_privkey_read(us, keyfile) || !otrl_privkey_find(us, account, proto)) {
		if (otrl_privkey_generate(us, keyfile, account, proto)) {
			fprintf(stderr, "libotrpeer: key generation failed\n");
			return 1;
		}
	}
	if (otrl_instag_read(us, instagfile) || !otrl_instag_find(us, account, proto))
		otrl_instag_generate(us, instagfile, account, proto);
	char fp[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];
	otrl_privkey_fingerprint(us, fp, account, proto);
	OtrlInsTag *tag = otrl_instag_find(us, account, proto);
	printf("ready %s %08x\n", fp, tag ? tag->instag : 0);

	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, stdin)) > 0) {
		if (line[n - 1] == '\n') line[--n] = 0;
		char *sp = strchr(line, ' ');
		char *arg = unescape(sp ? sp + 1 : "");
		if (sp) *sp = 0;
		ConnContext *ctx = best_context();
		if (!strcmp(line, "recv")) {
			do_recv(arg);
		} else if (!strcmp(line, "send")) {
			do_send(arg);
		} else if (!strcmp(line, "query")) {
			char *q = otrl_proto_default_query_msg(account, peer_policy);
			out("wire", q);
			free(q);
		} else if (!strcmp(line, "policy")) {
			peer_policy = (OtrlPolicy)atoi(arg);
		} else if (!strcmp(line, "maxsize")) {
			maxsize = atoi(arg);
		} else if (!strcmp(line, "smp") && ctx) {
			otrl_message_initiate_smp(us, &ops, NULL, ctx, (const unsigned char *)arg, strlen(arg));
		} else if (!strcmp(line, "smpq") && ctx) {
			char *tab = strchr(arg, '\t');
			if (tab) {
				*tab = 0;
				otrl_message_initiate_smp_q(us, &ops, NULL, ctx, arg, (const unsigned char *)tab + 1, strlen(tab + 1));
			}
		} else if (!strcmp(line, "smpanswer") && ctx) {
			otrl_message_respond_smp(us, &ops, NULL, ctx, (const unsigned char *)arg, strlen(arg));
		} else if (!strcmp(line, "smpabort") && ctx) {
			otrl_message_abort_smp(us, &ops, NULL, ctx);
		} else if (!strcmp(line, "end")) {
			otrl_message_disconnect_all_instances(us, &ops, NULL, account, proto, contact);
		} else if (!strcmp(line, "state")) {
			if (ctx) {
				char human[OTRL_PRIVKEY_FPRINT_HUMAN_LEN] = "-";
				if (ctx->active_fingerprint && ctx->active_fingerprint->fingerprint)
					otrl_privkey_hash_to_human(human, ctx->active_fingerprint->fingerprint);
				printf("state %d %08x %s\n", (int)ctx->msgstate, ctx->their_instance, human);
			} else {
				puts("state -1 00000000 -");
			}
		} else if (!strcmp(line, "quit")) {
			free(arg);
			puts("done");
			break;
		} else {
			printf("error unknown command %s\n", line);
		}
		free(arg);
		puts("done");
	}
	free(line);
	otrl_userstate_free(us);
	return 0;
}
