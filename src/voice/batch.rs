//! Datagrams in batches: one `recvmmsg` reads up to [`BATCH`] datagrams and
//! one `sendmmsg` sends up to [`BATCH`] to as many addresses, so the media
//! task makes one system call per batch instead of one per packet (an SFU
//! sends every packet to a different address, so GSO, which needs one
//! destination, does not apply). Other systems than Linux get the same
//! interface one datagram at a time.

use std::io;
use std::net::SocketAddr;

use tokio::io::Interest;
use tokio::net::UdpSocket;

use super::engine::Transmit;

/// The most datagrams one call reads or sends.
pub const BATCH: usize = 64;
/// The largest datagram read (the engine refuses larger ones anyway).
pub const DATAGRAM: usize = 2048;

/// Buffers for one batch of received datagrams, reused for every batch.
pub struct Received {
    buffers: Vec<[u8; DATAGRAM]>,
    lengths: [usize; BATCH],
    senders: [Option<SocketAddr>; BATCH],
    count: usize,
}

impl Default for Received {
    fn default() -> Self {
        Received { buffers: vec![[0; DATAGRAM]; BATCH], lengths: [0; BATCH], senders: [None; BATCH], count: 0 }
    }
}

impl Received {
    /// The datagrams of the last batch and who sent each.
    pub fn iter(&self) -> impl Iterator<Item = (SocketAddr, &[u8])> {
        (0..self.count).filter_map(|i| self.senders[i].map(|from| (from, &self.buffers[i][..self.lengths[i]])))
    }
}

/// Reads what is waiting (at least one datagram): waits until the socket
/// is readable, then takes up to [`BATCH`] datagrams in one call.
pub async fn receive(socket: &UdpSocket, into: &mut Received) -> io::Result<usize> {
    loop {
        socket.readable().await?;
        match socket.try_io(Interest::READABLE, || sys::receive(socket, into)) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Sends every transmit, `BATCH` per call, waiting while the socket's
/// buffer is full. A datagram the system refuses (an unreachable address)
/// is skipped with a trace, as one `send_to` would.
pub async fn send(socket: &UdpSocket, transmits: &[Transmit]) {
    let mut done = 0;
    while done < transmits.len() {
        let batch = &transmits[done..transmits.len().min(done + BATCH)];
        match socket.try_io(Interest::WRITABLE, || sys::send(socket, batch)) {
            Ok(sent) => done += sent.max(1).min(batch.len()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if socket.writable().await.is_err() {
                    return;
                }
            }
            Err(e) => {
                // The first datagram of the batch failed: skip it.
                tracing::trace!("voice: send to {} failed: {e}", batch[0].to);
                done += 1;
            }
        }
    }
}

#[cfg(target_os = "linux")]
mod sys {
    use std::io;
    use std::mem::MaybeUninit;
    use std::os::fd::AsRawFd;

    use socket2::{SockAddr, SockAddrStorage};
    use tokio::net::UdpSocket;

    use super::{BATCH, Received, Transmit};

    pub fn receive(socket: &UdpSocket, into: &mut Received) -> io::Result<usize> {
        let mut names: [SockAddrStorage; BATCH] = std::array::from_fn(|_| SockAddrStorage::zeroed());
        // SAFETY: zeroed iovec and mmsghdr are valid values of these plain
        // C structs.
        let mut iovecs: [libc::iovec; BATCH] = unsafe { MaybeUninit::zeroed().assume_init() };
        let mut headers: [libc::mmsghdr; BATCH] = unsafe { MaybeUninit::zeroed().assume_init() };
        for (((header, iovec), name), buffer) in
            headers.iter_mut().zip(iovecs.iter_mut()).zip(names.iter_mut()).zip(into.buffers.iter_mut())
        {
            *iovec = libc::iovec { iov_base: buffer.as_mut_ptr().cast(), iov_len: buffer.len() };
            header.msg_hdr.msg_namelen = name.size_of();
            // SAFETY: a socket address storage is viewed as the C struct it wraps.
            header.msg_hdr.msg_name =
                unsafe { name.view_as::<libc::sockaddr_storage>() as *mut libc::sockaddr_storage }.cast();
            header.msg_hdr.msg_iov = iovec;
            header.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: every header points at a buffer, an iovec and a name that
        // live until the call returns, with their true sizes.
        let n = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                headers.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            into.count = 0;
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        for (i, (header, name)) in headers.iter().zip(names).take(n).enumerate() {
            into.lengths[i] = header.msg_len as usize;
            // SAFETY: the kernel wrote a socket address of `msg_namelen`
            // bytes into this storage.
            let address = unsafe { SockAddr::new(name, header.msg_hdr.msg_namelen) };
            into.senders[i] = address.as_socket();
        }
        into.count = n;
        Ok(n)
    }

    /// Sends the batch; returns how many datagrams went (the first one
    /// failing is an error).
    pub fn send(socket: &UdpSocket, batch: &[Transmit]) -> io::Result<usize> {
        let names: Vec<SockAddr> = batch.iter().map(|t| SockAddr::from(t.to)).collect();
        // SAFETY: zeroed iovec and mmsghdr are valid plain C structs.
        let mut iovecs: [libc::iovec; BATCH] = unsafe { MaybeUninit::zeroed().assume_init() };
        let mut headers: [libc::mmsghdr; BATCH] = unsafe { MaybeUninit::zeroed().assume_init() };
        for (((header, iovec), name), transmit) in headers.iter_mut().zip(iovecs.iter_mut()).zip(&names).zip(batch) {
            *iovec =
                libc::iovec { iov_base: transmit.data.as_ptr() as *mut libc::c_void, iov_len: transmit.data.len() };
            header.msg_hdr.msg_name = name.as_ptr() as *mut libc::c_void;
            header.msg_hdr.msg_namelen = name.len();
            header.msg_hdr.msg_iov = iovec;
            header.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: each header points at data, an iovec and an address that
        // live until the call returns; the kernel only reads them.
        let n = unsafe {
            libc::sendmmsg(socket.as_raw_fd(), headers.as_mut_ptr(), batch.len() as libc::c_uint, libc::MSG_DONTWAIT)
        };
        if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    use std::io;

    use tokio::net::UdpSocket;

    use super::{Received, Transmit};

    pub fn receive(socket: &UdpSocket, into: &mut Received) -> io::Result<usize> {
        let (n, from) = socket.try_recv_from(&mut into.buffers[0])?;
        into.lengths[0] = n;
        into.senders[0] = Some(from);
        into.count = 1;
        Ok(1)
    }

    pub fn send(socket: &UdpSocket, batch: &[Transmit]) -> io::Result<usize> {
        socket.try_send_to(&batch[0].data, batch[0].to).map(|_| 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    #[tokio::test]
    async fn a_batch_goes_out_to_every_address_and_comes_back_in_one_read() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut peers = Vec::new();
        for _ in 0..3 {
            peers.push(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        }
        // More than one batch, to three addresses in turn.
        let transmits: Vec<Transmit> = (0..BATCH + 5)
            .map(|i| Transmit {
                to: peers[i % 3].local_addr().unwrap(),
                data: BytesMut::from(format!("packet {i}").as_bytes()),
            })
            .collect();
        send(&server, &transmits).await;
        let mut buf = [0u8; 64];
        for (i, transmit) in transmits.iter().enumerate() {
            let peer = &peers[i % 3];
            let (n, from) = peer.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &transmit.data[..]);
            assert_eq!(from, server.local_addr().unwrap());
        }

        // Every peer answers twice; the server reads them in batches, each
        // with its sender.
        for (i, peer) in peers.iter().enumerate() {
            for j in 0..2 {
                peer.send_to(format!("{i}-{j}").as_bytes(), server.local_addr().unwrap()).await.unwrap();
            }
        }
        let mut received = Received::default();
        let mut seen = Vec::new();
        while seen.len() < 6 {
            receive(&server, &mut received).await.unwrap();
            for (from, data) in received.iter() {
                let who = peers.iter().position(|p| p.local_addr().unwrap() == from).expect("a known sender");
                seen.push((who, String::from_utf8(data.to_vec()).unwrap()));
            }
        }
        seen.sort();
        let expected: Vec<(usize, String)> =
            (0..3).flat_map(|i| (0..2).map(move |j| (i, format!("{i}-{j}")))).collect();
        assert_eq!(seen, expected);
    }

    #[tokio::test]
    async fn an_unreachable_address_is_skipped_and_the_rest_go() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let transmits = vec![
            // Port 0 cannot be sent to.
            Transmit { to: "127.0.0.1:0".parse().unwrap(), data: BytesMut::from(&b"lost"[..]) },
            Transmit { to: peer.local_addr().unwrap(), data: BytesMut::from(&b"kept"[..]) },
        ];
        send(&server, &transmits).await;
        let mut buf = [0u8; 16];
        let (n, _) = peer.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"kept");
    }
}
