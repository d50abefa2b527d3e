package DynamoCluster;

# DynamoCluster.pm
#	Helpers for the multi-node TAP tests: start a cluster of dynamod nodes
#	(the first founds it, the others join with --seeds), wait for the
#	cluster to agree, read what one node thinks of another, read one
#	replica's own copy of a key (a raw REPLICA_GET), write with raw frames
#	(fast clients for the long tests), and take contexts apart.
#
#	my @n = DynamoCluster::start_cluster(3, engine => 'wiredtiger');
#	DynamoCluster::wait_until(5, sub { status_of($n[0], 'n3') eq 'down' });
#
#	Nodes are DynamoTest::Node objects, so restart, kill9, cli and get work
#	as in the single-node tests.

use strict;
use warnings;

use Exporter qw(import);
use File::Temp ();
use IO::Socket::INET;
use MIME::Base64 ();
use Test::More;
use Time::HiRes qw(time sleep);

use DynamoTest qw(frame raw_connect read_frame decode_get_reply json_decode);

our @EXPORT_OK = qw(start_cluster wait_until wait_converged status_of member_of
  pending_hints replica_copy values_of context_clock written_dot raw_put raw_get
  preflist);

# start_cluster($count, engine => ..., zones => [...], args => [...],
#               n => N, prefix => 'n', secure => 1, net => $netns) -> list
# of nodes, converged.  net => a Netns harness puts node i in the harness's
# namespace node_ns(i) at node_ip(i).  secure => 1 makes a key per node and
# an admin key, and one trust file listing every node as role node, which
# every node reads.
sub start_cluster
{
	my ($count, %o) = @_;
	my %sec;
	if ($o{secure})
	{
		my $dir = File::Temp::tempdir('dynamo-keys-XXXXXX', TMPDIR => 1,
			CLEANUP => !$ENV{DYNAMO_KEEP});
		my @trust;
		for my $i (1 .. $count)
		{
			my $id = ($o{prefix} // 'c') . $i;
			push @trust, [ DynamoTest::keygen("$dir/$id.key"), 'node', $id ];
		}
		push @trust, [ DynamoTest::keygen("$dir/admin.key"), 'admin', 'admin' ];
		DynamoTest::write_trust("$dir/trust", \@trust);
		%sec = (dir => $dir);
	}
	my @zones = @{ $o{zones} // [] };
	my $prefix = $o{prefix} // 'c';
	my @nodes;
	for my $i (1 .. $count)
	{
		my @args = (@{ $o{args} // [] },
			(defined $o{n} ? ('--n', $o{n}) : ()),
			(@zones ? ('--zone', $zones[ ($i - 1) % @zones ]) : ()),
			($i > 1 ? ('--seeds', $nodes[0]->addr) : ()));
		push @nodes, DynamoTest::Node->start(
			($o{net} ? (netns => $o{net}->node_ns($i), ip => $o{net}->node_ip($i)) : ()),
			id     => "$prefix$i",
			engine => $o{engine} // 'wiredtiger',
			args   => \@args,
			(%sec ? (secure => 1, key_file => "$sec{dir}/$prefix$i.key",
					trust_file => "$sec{dir}/trust", admin_key => "$sec{dir}/admin.key") : ()));
	}
	wait_converged(\@nodes, 20) or die "DynamoCluster: the cluster did not converge\n"
	  . join('', map { "$_->{id}:\n" . $_->log_tail(15) } @nodes);
	return @nodes;
}

# Poll $cond every 50 ms until it is true or $timeout seconds pass;
# returns the seconds it took, or undef.
sub wait_until
{
	my ($timeout, $cond) = @_;
	my $start = time;
	while (1)
	{
		return time - $start if $cond->();
		return undef if time - $start > $timeout;
		sleep 0.05;
	}
}

# Every node has a ring of all of them with no partition transfer pending,
# and sees every one of them up.
sub wait_converged
{
	my ($nodes, $timeout) = @_;
	my @ids = sort map { $_->{id} } @$nodes;
	return defined wait_until($timeout // 20, sub {
		for my $n (@$nodes)
		{
			my $s = $n->status;
			return 0 unless ($s->{ring_members} // 0) == @ids;
			return 0 if ($s->{ring_pending} // 0) > 0;    # handoffs still running
			my %up = map { $_->{id} => $_->{status} } @{ $s->{members} // [] };
			return 0 if grep { ($up{$_} // '') ne 'up' } @ids;
		}
		return 1;
	});
}

# What $node's STATUS says of member $id ('up', 'down', or '' if unknown).
sub status_of
{
	my ($node, $id) = @_;
	my $m = member_of($node, $id);
	return $m ? $m->{status} : '';
}

sub member_of
{
	my ($node, $id) = @_;
	my $s = $node->status;
	for my $m (@{ $s->{members} // [] })
	{
		return $m if $m->{id} eq $id;
	}
	return undef;
}

# Hints $node keeps: for one target, or all of them.
sub pending_hints
{
	my ($node, $target) = @_;
	my $h = $node->status->{hints} // {};
	return $h->{pending}{$target} // 0 if defined $target;
	return $h->{pending_total} // 0;
}

# The node's own copy of bucket/key (a REPLICA_GET, as a coordinator asks
# for it): the siblings as decode_get_reply gives them (tombstones too), or
# undef with a diag.
sub replica_copy
{
	my ($node, $bucket, $key) = @_;
	my $s = raw_connect($node->port) or do { diag("connect $node->{id}: $!"); return undef };
	print $s frame(0x10, 7, pack('C/a* n/a*', $bucket, $key));
	my $f = read_frame($s, 5);
	close $s;
	if (!$f || $f->{type} != 0x90)
	{
		diag("replica get from $node->{id}: " . ($f ? sprintf('type 0x%02x', $f->{type}) : $@));
		return undef;
	}
	return decode_get_reply($f->{body});
}

# The live values of a sibling list, sorted.
sub values_of
{
	my ($sib) = @_;
	return [ sort map { $_->{value} } grep { !$_->{tombstone} } @{ $sib // [] } ];
}

# A context's text as { id => counter }.
sub context_clock
{
	my ($text) = @_;
	my %vc;
	return \%vc if !defined $text || $text eq '';
	my $bin = MIME::Base64::decode_base64url($text);
	my $pos = 0;
	my $n = ord substr($bin, $pos++, 1);
	for (1 .. $n)
	{
		my $len = ord substr($bin, $pos++, 1);
		my $id = substr($bin, $pos, $len);
		$pos += $len;
		$vc{$id} = DynamoTest::read_varint($bin, \$pos);
		DynamoTest::read_varint($bin, \$pos);
	}
	return \%vc;
}

# The dot of a version written with context $ctx that PUT answered with
# $written: the one entry the write advanced.  [id, counter] or undef.
sub written_dot
{
	my ($ctx, $written) = @_;
	my $c = context_clock($ctx);
	my $w = context_clock($written);
	my @d = grep { $w->{$_} > ($c->{$_} // 0) } keys %$w;
	return @d == 1 ? [ $d[0], $w->{ $d[0] } ] : undef;
}

# A PUT on a raw socket: returns ('ok', context bytes) or ('error', message)
# or ('io', why).
sub raw_put
{
	my ($s, $reqid, $bucket, $key, $value, $w, $ctx) = @_;
	my $body = pack('C/a* n/a* n/a* C N/a*', $bucket, $key, $ctx // '', $w // 0, $value);
	return ('io', "$!") unless print $s frame(0x02, $reqid, $body);
	my $f = read_frame($s, 10);
	return ('io', $@) unless $f;
	return ('io', 'reply id mismatch') if $f->{reqid} != $reqid;
	if ($f->{type} == 0x82)
	{
		my $len = unpack('n', $f->{body});
		return ('ok', substr($f->{body}, 2, $len));
	}
	if ($f->{type} == 0xFF)
	{
		my ($code, $rep, $need, $mlen) = unpack('n C C n', $f->{body});
		return ('error', substr($f->{body}, 6, $mlen));
	}
	return ('io', sprintf('unexpected reply 0x%02x', $f->{type}));
}

# A GET on a raw socket: ('ok', siblings) / ('error', msg) / ('io', why).
sub raw_get
{
	my ($s, $reqid, $bucket, $key, $r) = @_;
	return ('io', "$!")
	  unless print $s frame(0x01, $reqid, pack('C/a* n/a* C', $bucket, $key, $r // 0));
	my $f = read_frame($s, 10);
	return ('io', $@) unless $f;
	return ('io', 'reply id mismatch') if $f->{reqid} != $reqid;
	return ('ok', decode_get_reply($f->{body})) if $f->{type} == 0x81;
	if ($f->{type} == 0xFF)
	{
		my ($code, $rep, $need, $mlen) = unpack('n C C n', $f->{body});
		return ('error', substr($f->{body}, 6, $mlen));
	}
	return ('io', sprintf('unexpected reply 0x%02x', $f->{type}));
}

# dynamo-cli --json preflist through $node: the decoded object or undef.
sub preflist
{
	my ($node, $bucket, $key) = @_;
	my ($rc, $out, $err) = $node->cli('--json', 'preflist', $bucket, $key);
	if ($rc != 0)
	{
		diag("preflist $bucket/$key exited $rc: $err");
		return undef;
	}
	return json_decode($out);
}

1;
